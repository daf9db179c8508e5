"""HTTP client for the smSend / Skebby / Mobyt "SMS REST API" (``.../API/v1.0/REST/``).

HTTP only, no ORM, nothing at import time. The package is layered like the rest of the app
(each module imports only the ones above it in this list):

* :mod:`~django_smsrest.client.redaction` - the one secret mask (:func:`redact`);
* :mod:`~django_smsrest.client.errors` - :func:`map_error`, the one place that tells
  surely-not-sent from maybe-sent;
* :mod:`~django_smsrest.client.transport` - requests sessions per thread, timeouts, TLS;
* :mod:`~django_smsrest.client.session` - login / token, the shared keys, the one locked
  re-login after a refused key;
* :mod:`~django_smsrest.client.api` - :class:`SmsRestClient` and its endpoints.

Import the public names from here: ``from django_smsrest.client import SmsRestClient``.
"""

from __future__ import annotations

from django_smsrest.client.api import (
    SEND_EXTRA_FIELDS,
    UNAMBIGUOUS_ZONE,
    SmsRestClient,
    format_gateway_datetime,
    gateway_time,
    is_ambiguous,
    parse_gateway_datetime,
)
from django_smsrest.client.errors import (
    RETRY_AFTER_CAP_SECONDS,
    Operation,
    map_error,
    parse_retry_after,
)
from django_smsrest.client.redaction import redact, sanitise
from django_smsrest.client.session import AuthMode, AuthSession
from django_smsrest.client.transport import ClientStats, Transport

__all__ = [
    "RETRY_AFTER_CAP_SECONDS",
    "SEND_EXTRA_FIELDS",
    "UNAMBIGUOUS_ZONE",
    "AuthMode",
    "AuthSession",
    "ClientStats",
    "Operation",
    "SmsRestClient",
    "Transport",
    "format_gateway_datetime",
    "gateway_time",
    "is_ambiguous",
    "map_error",
    "parse_gateway_datetime",
    "parse_retry_after",
    "redact",
    "sanitise",
]
