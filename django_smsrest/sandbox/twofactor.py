"""The gateway's PIN service, simulated: ``POST 2fa/request`` and ``POST 2fa/verify``.

The request's fields are documented (``recipient`` ``+…``/``00…``, ``senderName``,
``expiry`` in minutes, default 60, ``messageBody`` with ``%PIN%``, the PIN appended when
it is missing). The answers' bodies are not: this module invents them, and the fidelity
table says so. ``2fa/request`` answers 200 ``{"result": "OK"}``; ``2fa/verify`` answers
200 ``{"status": "OK"|"ERROR", "remaining_tries": n}``; a PIN is good for
:data:`TRIES` wrong guesses, then it is gone; a bad recipient, sender or expiry is a 400.
Every PIN sent is kept (with its text) for the sandbox's page and ``/_sandbox/orders``, so
a person or a test can read it as from a phone.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from django_smsrest.sandbox.replies import Reply, ko

__all__ = ["TRIES", "PinBook"]

#: Wrong guesses a PIN survives (invented).
TRIES = 3
DEFAULT_EXPIRY_MINUTES = 60
_RECIPIENT = re.compile(r"(\+|00)[1-9][0-9]{5,14}")
_SENDER = re.compile(r"[A-Za-z0-9 .\-_&]{1,11}|\+?[0-9]{1,16}")


@dataclass
class Pin:
    recipient: str
    pin: str
    text: str
    sender: str
    created: float
    expires: float
    tries_left: int = TRIES
    used: bool = False

    def inspect(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "text": self.text,
            "sender": self.sender,
            "created": self.created,
            "expires": self.expires,
            "tries_left": self.tries_left,
            "used": self.used,
        }


class PinBook:
    """The PINs the sandbox sent, newest last; the live one per recipient is the last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pins: list[Pin] = []

    def clear(self) -> None:
        with self._lock:
            self.pins.clear()

    def inspect(self) -> list[dict[str, Any]]:
        with self._lock:
            return [pin.inspect() for pin in self.pins]

    def handle(self, label: str, body: bytes, now: float) -> Reply:
        """Answer ``POST 2fa/request`` or ``POST 2fa/verify`` (authentication already
        checked by the caller)."""
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return ko(400, "The body must be a JSON object.", "BAD_REQUEST")
        recipient = str(data.get("recipient") or "")
        if not _RECIPIENT.fullmatch(recipient):
            return ko(400, f"Invalid recipient {recipient!r}.", "INVALID_RECIPIENT")
        recipient = "+" + recipient.removeprefix("+").removeprefix("00")
        if label == "POST 2fa/request":
            return self._request(recipient, data, now)
        return self._verify(recipient, str(data.get("pin") or ""), now)

    def _request(self, recipient: str, data: dict[str, Any], now: float) -> Reply:
        from django_smsrest.sandbox.replies import json_reply, ko

        expiry = data.get("expiry", DEFAULT_EXPIRY_MINUTES)
        if not isinstance(expiry, int) or isinstance(expiry, bool) or expiry < 1:
            return ko(400, f"Invalid expiry {expiry!r} (minutes).", "INVALID_EXPIRY")
        sender = str(data.get("senderName") or "")
        if sender and not _SENDER.fullmatch(sender):
            return ko(400, f"Invalid sender {sender!r}.", "INVALID_SENDER")
        pin = f"{secrets.randbelow(10**6):06d}"
        body = data.get("messageBody")
        if not isinstance(body, str) or not body.strip():
            body = "Your PIN is %PIN%"
        text = body.replace("%PIN%", pin) if "%PIN%" in body else f"{body} {pin}"
        with self._lock:
            for old in self.pins:
                if old.recipient == recipient:
                    old.used = True  # a new PIN replaces the old one
            self.pins.append(Pin(recipient, pin, text, sender, now, now + 60 * expiry))
        return json_reply(200, {"result": "OK"})

    def _verify(self, recipient: str, pin: str, now: float) -> Reply:
        from django_smsrest.sandbox.replies import json_reply

        with self._lock:
            live = next(
                (
                    p
                    for p in reversed(self.pins)
                    if p.recipient == recipient and not p.used and p.expires > now
                ),
                None,
            )
            if live is None:
                return json_reply(200, {"status": "ERROR", "remaining_tries": 0})
            if secrets.compare_digest(live.pin, pin):
                live.used = True
                return json_reply(200, {"status": "OK", "remaining_tries": live.tries_left})
            live.tries_left -= 1
            if live.tries_left <= 0:
                live.used = True
            return json_reply(200, {"status": "ERROR", "remaining_tries": live.tries_left})
