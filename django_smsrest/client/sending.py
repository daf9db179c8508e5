"""The send endpoints: ``POST sms``, ``POST paramsms`` and ``POST smstogroups``, one POST
per call, any 2xx a success, the answer read the same way for all three."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import tzinfo
from typing import Any

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
#: The arguments every send endpoint reads itself (the rest go to the body as they are).
_SHARED_FIELDS = frozenset(
    {
        "sender",
        "scheduled_delivery_time",
        "encoding",
        "return_credits",
        "return_remaining",
        "allow_invalid_recipients",
    }
)
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
        except (ValueError, RecursionError):  # RecursionError: nested ~1,000 deep or more
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
        order_id: str | None = None,
        **fields: Any,
    ) -> SendResult:
        """``POST sms``: one order to ``recipients`` (E.164 strings, already normalised).

        Exactly one POST, except the single repeat after a refused key (see the module
        docstring). Any 2xx is success. Pass ``order_id`` (≤ 32 chars of
        ``[A-Za-z0-9_.-]``) so an unknown outcome can be reconciled with ``get_order``.
        ``fields``: ``sender``, ``scheduled_delivery_time`` (aware; sent as ``yyyyMMddHHmmss``
        in ``gateway_timezone`` with ``scheduled_delivery_timezone``, or in UTC when that
        local time is ambiguous: the autumn fold, see :func:`gateway_time`), ``encoding``
        (``"gsm"``/``"ucs2"``), ``return_credits``, ``return_remaining``,
        ``allow_invalid_recipients`` and the optional gateway fields in
        :data:`SEND_EXTRA_FIELDS`; ``None`` values are left out.

        Raises a :class:`~django_smsrest.exceptions.NotSentError` subclass when the
        gateway surely did not accept the order, a
        :class:`~django_smsrest.exceptions.MaybeSentError` subclass when it may have, and
        ``ValueError``/``TypeError`` for bad arguments (before any request).
        """
        body = self._send_body("send_sms", message, message_type, order_id, fields)
        body["recipient"] = _non_empty_texts(recipients, "recipients", "phone numbers")
        return self._post_order("sms", body, order_id)

    def send_params(
        self,
        message: str,
        recipients: Iterable[Mapping[str, str]],
        *,
        message_type: str,
        order_id: str | None = None,
        keyed: bool = False,
        **fields: Any,
    ) -> SendResult:
        """``POST paramsms``: one personalised order. ``message`` holds ``${name}``
        placeholders; each of ``recipients`` is a map with ``recipient`` (E.164) and one
        value per placeholder, substituted by the gateway. The map goes out as a JSON
        array of objects, or (``keyed=True``, for accounts that want it) as an object keyed
        ``"0"``, ``"1"``, ... ``fields`` and errors as :meth:`send_sms`. smSend answers
        200, Skebby 201: any 2xx is success."""
        maps = [dict(item) for item in recipients]
        if not maps or not all(
            isinstance(m.get("recipient"), str) and m["recipient"].strip() for m in maps
        ):
            raise ValueError("recipients must be maps, each with a 'recipient' number")
        if not all(isinstance(v, str) for m in maps for v in m.values()):
            raise ValueError("every parameter value must be a string")
        body = self._send_body("send_params", message, message_type, order_id, fields)
        body["recipients"] = {str(i): m for i, m in enumerate(maps)} if keyed else maps
        return self._post_order("paramsms", body, order_id)

    def send_to_groups(
        self,
        message: str,
        groups: Iterable[str],
        *,
        message_type: str,
        order_id: str | None = None,
        **fields: Any,
    ) -> SendResult:
        """``POST smstogroups``: one order to the contact groups named in ``groups`` (as
        kept in the provider's panel). An unknown group is a 400 (``GatewayRejected``)
        with the gateway's reason. ``fields`` and errors as :meth:`send_sms`."""
        body = self._send_body("send_to_groups", message, message_type, order_id, fields)
        body["recipient"] = _non_empty_texts(groups, "groups", "group names")
        return self._post_order("smstogroups", body, order_id)

    def _send_body(
        self,
        method: str,
        message: str,
        message_type: str,
        order_id: str | None,
        fields: dict[str, Any],
    ) -> dict[str, Any]:
        """The fields every send endpoint shares, checked before any request."""
        extra = {k: v for k, v in fields.items() if k not in _SHARED_FIELDS}
        unknown = sorted(set(extra) - SEND_EXTRA_FIELDS)
        if unknown:
            raise TypeError(
                f"{method}() got unexpected keyword argument(s): {', '.join(unknown)}; "
                f"optional gateway fields are {', '.join(sorted(SEND_EXTRA_FIELDS))}"
            )
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
        encoding = fields.get("encoding")
        if encoding is not None and encoding not in ("gsm", "ucs2"):
            raise ValueError(f"encoding must be 'gsm' or 'ucs2', not {encoding!r}")

        body: dict[str, Any] = {
            "message_type": message_type,
            "message": message,
            "returnCredits": bool(fields.get("return_credits", False)),
            "returnRemaining": bool(fields.get("return_remaining", True)),
            "allowInvalidRecipients": bool(fields.get("allow_invalid_recipients", False)),
        }
        if fields.get("sender") is not None:
            body["sender"] = fields["sender"]
        when = fields.get("scheduled_delivery_time")
        if when is not None:
            text, zone = gateway_time(when, self.tz, self.gateway_timezone)
            body["scheduled_delivery_time"] = text
            body["scheduled_delivery_timezone"] = zone
        if order_id is not None:
            body["order_id"] = order_id
        if encoding is not None:
            body["encoding"] = encoding
        body.update({k: v for k, v in extra.items() if v is not None})
        return body

    def _post_order(self, endpoint: str, body: dict[str, Any], order_id: str | None) -> SendResult:
        """One POST of a send endpoint, its 2xx answer read as a :class:`SendResult`."""
        call = _Call("POST", endpoint, endpoint, "send", order_id=order_id)
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


def _non_empty_texts(values: str | Iterable[str], name: str, what: str) -> list[str]:
    """``values`` (one string or several) as a list, or ``ValueError`` unless it holds at
    least one value and every value is a non-blank string."""
    items = [values] if isinstance(values, str) else list(values)
    if not items or not all(isinstance(item, str) and item.strip() for item in items):
        raise ValueError(f"{name} must be a non-empty list of {what}")
    return items
