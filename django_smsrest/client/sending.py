"""The send endpoints: ``POST sms``, ``POST paramsms`` and ``POST smstogroups``, one POST
per call, any 2xx a success, the answer read the same way for all three."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any, Literal

import requests

from django_smsrest.client.dates import gateway_time
from django_smsrest.client.errors import _Call
from django_smsrest.client.parsing import _maybe_accepted, _parse_send_result
from django_smsrest.client.redaction import redact
from django_smsrest.client.session import AuthSession
from django_smsrest.exceptions import UnexpectedResponse
from django_smsrest.results import (
    SendResult,
)

#: Optional ``POST sms`` fields passed through unchanged by :meth:`SmsRestClient.send_sms`.
SEND_EXTRA_FIELDS = frozenset(
    {
        "campaign_name",
        "max_fragments",
        "truncate",
        "validity_period_min",
        "short_link_url",
        "richsms_url",
        "id_landing",
    }
)

# Documented rule for custom order ids (paramsms/smstogroups pages; assumed for sms too).
_ORDER_ID_RE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")  # always used with fullmatch


class SendEndpoints(AuthSession):
    """The send half of :class:`~django_smsrest.client.api.SmsRestClient`."""

    tz: tzinfo
    gateway_timezone: str

    def _json_object(self, response: requests.Response, call: _Call) -> dict[str, Any]:
        """The 2xx body as a JSON object, or :class:`UnexpectedResponse` (maybe sent) that
        says what came instead: an HTML page (a maintenance page, a proxy, a captive
        portal), an empty body, text, or JSON of another shape."""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
        text = response.text or ""
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower() or text.lstrip()[:1] == "<":
            what = "an HTML page (a maintenance page or a proxy?)"
        elif not text.strip():
            what = "an empty body"
        elif data is None:
            what = "text that is not JSON"
        else:
            what = f"a JSON {type(data).__name__}"
        raise UnexpectedResponse(
            f"HTTP {response.status_code} from {self.host} to {call.label} with {what} "
            f"instead of the documented JSON object{_maybe_accepted(call)}",
            status_code=response.status_code,
            detail=redact(text or "(empty)", self._secrets(), limit=120),
        )

    def send_sms(
        self,
        message: str,
        recipients: str | Iterable[str],
        *,
        message_type: str,
        sender: str | None = None,
        scheduled_delivery_time: datetime | None = None,
        order_id: str | None = None,
        encoding: Literal["gsm", "ucs2"] | None = None,
        return_credits: bool = False,
        return_remaining: bool = True,
        allow_invalid_recipients: bool = False,
        **extra: Any,
    ) -> SendResult:
        """``POST sms``: one order to ``recipients`` (E.164 strings, already normalised).

        Exactly one POST, except the single repeat after a refused key (see the module
        docstring). Any 2xx is success. Pass ``order_id`` (≤ 32 chars of
        ``[A-Za-z0-9_.-]``) so an unknown outcome can be reconciled with :meth:`get_order`.
        ``scheduled_delivery_time`` must be aware; it is sent as ``yyyyMMddHHmmss`` in
        ``gateway_timezone`` together with ``scheduled_delivery_timezone``, or in UTC when
        that local time is ambiguous (the autumn fold, see :func:`gateway_time`). ``extra`` takes
        the optional fields in :data:`SEND_EXTRA_FIELDS`; ``None`` values are left out.

        Raises a :class:`~django_smsrest.exceptions.NotSentError` subclass when the
        gateway surely did not accept the order, a
        :class:`~django_smsrest.exceptions.MaybeSentError` subclass when it may have, and
        ``ValueError``/``TypeError`` for bad arguments (before any request).
        """
        unknown = sorted(set(extra) - SEND_EXTRA_FIELDS)
        if unknown:
            raise TypeError(
                f"send_sms() got unexpected keyword argument(s): {', '.join(unknown)}; "
                f"optional gateway fields are {', '.join(sorted(SEND_EXTRA_FIELDS))}"
            )
        numbers = [recipients] if isinstance(recipients, str) else list(recipients)
        if not numbers or not all(isinstance(n, str) and n.strip() for n in numbers):
            raise ValueError("recipients must be a non-empty list of phone numbers")
        if not isinstance(message, str) or not message:
            raise ValueError("message must be a non-empty string")
        if not message_type:
            raise ValueError("message_type is required")
        if order_id is not None and not (
            isinstance(order_id, str) and _ORDER_ID_RE.fullmatch(order_id)
        ):
            raise ValueError(
                f"order_id {order_id!r} must be 1-32 characters of letters, digits, '_', '.', '-'"
            )
        if encoding is not None and encoding not in ("gsm", "ucs2"):
            raise ValueError(f"encoding must be 'gsm' or 'ucs2', not {encoding!r}")

        body: dict[str, Any] = {
            "message_type": message_type,
            "message": message,
            "recipient": numbers,
            "returnCredits": bool(return_credits),
            "returnRemaining": bool(return_remaining),
            "allowInvalidRecipients": bool(allow_invalid_recipients),
        }
        if sender is not None:
            body["sender"] = sender
        if scheduled_delivery_time is not None:
            text, zone = gateway_time(scheduled_delivery_time, self.tz, self.gateway_timezone)
            body["scheduled_delivery_time"] = text
            body["scheduled_delivery_timezone"] = zone
        if order_id is not None:
            body["order_id"] = order_id
        if encoding is not None:
            body["encoding"] = encoding
        body.update({k: v for k, v in extra.items() if v is not None})

        call = _Call("POST", "sms", "sms", "send", order_id=order_id)
        response = self._call(call, json_body=body)
        data = self._json_object(response, call)
        result = _parse_send_result(data)
        if isinstance(result, list):
            raise UnexpectedResponse(
                f"HTTP {response.status_code} from {self.host} to {call.label} is not the "
                f"documented answer ({', '.join(result)}){_maybe_accepted(call)}",
                status_code=response.status_code,
                detail=redact(json.dumps(data)[:200], self._secrets(), limit=200),
            )
        return result
