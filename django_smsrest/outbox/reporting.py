"""What a job tells the world: ``last_error`` texts free of secrets, and signals whose
failing receivers never break the outbox."""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext_lazy as _

from django_smsrest.client.redaction import redact
from django_smsrest.conf import SmsRestSettings
from django_smsrest.exceptions import GatewayError
from django_smsrest.models import SmsMessage

logger = logging.getLogger("django_smsrest")

#: ``last_error`` is cut to this many characters.
ERROR_MAX = 1000


def describe_error(exc: BaseException, conf: SmsRestSettings) -> str:
    """A ``last_error`` text: the gateway's reason for our own exceptions (already free of
    secrets by contract, scrubbed again here), only the class name for anything else,
    whose text might quote a URL with the password in it."""
    if isinstance(exc, GatewayError):
        text = str(exc)
    else:
        text = str(_("Unexpected error (%(type)s); see the application logs.")) % {
            "type": type(exc).__name__
        }
    return redact(text, [conf.password], limit=ERROR_MAX)


def send_robust(signal: Any, **kwargs: Any) -> None:
    """Send a notification signal; a failing receiver is logged, never breaks the outbox."""
    for receiver, response in signal.send_robust(sender=SmsMessage, **kwargs):
        if isinstance(response, Exception):
            logger.error(
                "django-smsrest signal receiver %r failed",
                receiver,
                exc_info=(type(response), response, response.__traceback__),
            )


def digits(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits[2:] if number.strip().startswith("00") else digits
