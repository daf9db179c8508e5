"""The gateway's own one-time PIN service: ``POST 2fa/request`` (the platform makes the
PIN, sends it on its best route, keeps it and expires it) and ``POST 2fa/verify``.

The request fields are documented (``recipient``, ``senderName``, ``expiry`` in minutes,
``messageBody`` with ``%PIN%``); the verify answer's field names are not (the
documentation says "status OK or ERROR and the number of remaining tries", a third-party
SDK says ``result: success/error``), so :func:`parse_pin_check` reads the answer leniently
and keeps it whole in ``raw``.
"""

from __future__ import annotations

from typing import Any

from django_smsrest.client.errors import _Call
from django_smsrest.client.sending import SendEndpoints
from django_smsrest.results import PinCheck

__all__ = ["PIN_PLACEHOLDER", "PinEndpoints", "parse_pin_check"]

#: Where the gateway puts the PIN in ``messageBody``.
PIN_PLACEHOLDER = "%PIN%"

_VALID = frozenset({"ok", "success", "valid", "true"})
_TRIES_KEYS = ("remaining_tries", "remainingTries", "remaining", "tries", "tries_left")


def _tries(data: dict[str, Any]) -> int | None:
    for key in _TRIES_KEYS:
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
    return None


def parse_pin_check(data: dict[str, Any]) -> PinCheck:
    """A ``2fa/verify`` answer: valid when ``status`` (or ``result``) says OK/success."""
    verdict = data.get("status", data.get("result"))
    valid = verdict is True or (isinstance(verdict, str) and verdict.strip().lower() in _VALID)
    return PinCheck(valid=valid, remaining_tries=_tries(data), raw=data)


class PinEndpoints(SendEndpoints):
    """The PIN half of :class:`~django_smsrest.client.api.SmsRestClient`."""

    def request_pin(
        self,
        recipient: str,
        *,
        message_body: str | None = None,
        expiry_minutes: int | None = None,
        sender_name: str | None = None,
    ) -> None:
        """``POST 2fa/request``: the gateway makes a PIN and sends it to ``recipient``
        (E.164). ``message_body`` must contain ``%PIN%`` (the gateway appends the PIN
        otherwise); ``expiry_minutes`` (gateway default 60); ``sender_name`` (default: the
        account's preferred sender). A 400 (bad number, sender or expiry, or not enough
        credit) raises :class:`~django_smsrest.exceptions.GatewayRejected`. Like a send, it
        is never repeated by this client: a lost answer may mean the PIN went out."""
        if message_body is not None and PIN_PLACEHOLDER not in message_body:
            raise ValueError(f"message_body must contain {PIN_PLACEHOLDER}")
        if expiry_minutes is not None and expiry_minutes < 1:
            raise ValueError("expiry_minutes must be at least 1")
        body: dict[str, Any] = {"recipient": recipient}
        if message_body is not None:
            body["messageBody"] = message_body
        if expiry_minutes is not None:
            body["expiry"] = expiry_minutes
        if sender_name:
            body["senderName"] = sender_name
        self._call(_Call("POST", "2fa/request", "2fa/request", "pin"), json_body=body)

    def verify_pin(self, recipient: str, pin: str) -> PinCheck:
        """``POST 2fa/verify``: whether ``pin`` is the valid PIN of ``recipient`` (and the
        tries left, when the gateway says). A wrong PIN is ``valid=False``, not an error."""
        call = _Call("POST", "2fa/verify", "2fa/verify", "pin")
        response = self._call(call, json_body={"recipient": recipient, "pin": pin})
        return parse_pin_check(self._json_object(response, call))
