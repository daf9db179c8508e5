"""Received SMS (reference §7.2): ``GET newsrsmsmessage`` and ``GET srsmshistory``.

Messages reach the sandbox through ``POST /_sandbox/inbound`` (JSON, or the form on the
``/_sandbox/`` page), as if someone had texted one of the account's reception SIMs.

What is documented (smSend "Received SMS API" pages) and what the sandbox guesses:

* Documented: the paths ``newsrsmsmessage[/{id_sim}]``, ``srsmshistory[/{id_sim}]`` and
  ``srsmshistory/{id_sim}/{id_message}``; ``id_sim`` is one or more numbers
  (``+39...`` or ``0039...``, comma-separated); ``newsrsmsmessage`` returns what arrived
  *since the previous call of this method* (a server-side cursor) with ``limit`` at most
  100 (default 100); ``srsmshistory`` takes ``from`` (required, ``yyyyMMddHHmmss``),
  ``to``, ``timezone``, ``pageNumber``, ``pageSize``; errors 400/401/404.
* Guessed (no source shows a response body): the item fields ``id``, ``id_sim``,
  ``phoneNumber`` (the sender), ``text`` and ``receivedDate`` (``yyyyMMddHHmmss`` in the
  account's zone) are skebby-sdk's names plus ``id_sim`` (the documented parameter
  name); the wrappers ``{"result": "OK", "messages": [...]}`` for ``newsrsmsmessage`` and
  ``{"total", "pageNumber", "pageSize", "srsmshistory": [...]}`` for ``srsmshistory``
  (the shape of ``smshistory``) are the sandbox's own.

The cursor: ``newsrsmsmessage`` returns the oldest messages not returned before (of the
asked SIMs), at most ``limit``, and marks them consumed; the rest come next time.
``srsmshistory`` re-reads without consuming. :class:`Inbox` holds no lock of its own: the
state calls it with its lock held.
"""

from __future__ import annotations

import itertools
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django_smsrest.sandbox.config import RECIPIENT_RE, SandboxConfig
from django_smsrest.sandbox.delivery import format_date, iso_date
from django_smsrest.sandbox.queries import history_date, positive_int
from django_smsrest.sandbox.replies import ApiError, Reply, error_reply, json_reply
from django_smsrest.sandbox.validation import parse_timezone

#: The reception SIM a message reaches when ``POST /_sandbox/inbound`` names none.
DEFAULT_SIM = "+393400000000"

#: ``limit`` of ``newsrsmsmessage`` (documented: at most 100, default 100).
MAX_LIMIT = 100

_TEXT_MAX = 1000


@dataclass
class InboundMessage:
    """One received SMS."""

    id: int
    id_sim: str
    sender: str
    text: str
    received_at: float
    consumed: bool = False

    def item(self, tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
        """The API item (field names: see the module docstring, guessed)."""
        return {
            "id": str(self.id),
            "id_sim": self.id_sim,
            "phoneNumber": self.sender,
            "text": self.text,
            "receivedDate": format_date(self.received_at, tz),
        }

    def inspect(self, tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
        """The inspection record (``/_sandbox/orders``): the item plus the cursor state."""
        record = self.item(tz)
        record.update(received_at=iso_date(self.received_at, tz), consumed=self.consumed)
        return record


def _normalise(number: str) -> str:
    return "+" + number[2:] if number.startswith("00") else number


def _sims(argument: str | None) -> set[str] | None:
    """The SIMs named in the path (``None``: all); 400 for a malformed number."""
    if not argument:
        return None
    sims = {s.strip() for s in argument.split(",") if s.strip()}
    bad = [s for s in sims if not RECIPIENT_RE.fullmatch(s)]
    if bad or not sims:
        raise ApiError(
            f"id_sim must be one or more international numbers separated by commas "
            f"(+393471234567 or 00393471234567), not {argument!r}.",
            "INVALID_PARAMETER",
        )
    return {_normalise(s) for s in sims}


def _limit(query: Mapping[str, str]) -> int:
    value = query.get("limit", "")
    if not value:
        return MAX_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise ApiError(
            f"limit must be a whole number from 1 to {MAX_LIMIT}, not {value!r}.",
            "INVALID_PARAMETER",
        )
    return int(value)


class Inbox:
    """Received messages, oldest first, with the ``newsrsmsmessage`` cursor."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.messages: list[InboundMessage] = []
        self._ids = itertools.count(1)

    def clear(self) -> None:
        self.messages.clear()

    def receive(self, data: Mapping[str, Any], now: float) -> InboundMessage:
        """Store a message from ``POST /_sandbox/inbound``; ``ValueError`` when invalid.

        ``sender`` (required, an international number), ``text`` (required, 1..1000
        characters), ``id_sim`` (the receiving SIM; default :data:`DEFAULT_SIM`).
        """
        sender = data.get("sender")
        sim = data.get("id_sim") or DEFAULT_SIM
        text = data.get("text")
        for name, number in (("sender", sender), ("id_sim", sim)):
            if not isinstance(number, str) or not RECIPIENT_RE.fullmatch(number):
                raise ValueError(
                    f"{name} must be an international number such as +393471234567, not {number!r}"
                )
        if not isinstance(text, str) or not text or len(text) > _TEXT_MAX:
            raise ValueError(f"text must be a string of 1 to {_TEXT_MAX} characters")
        assert isinstance(sender, str) and isinstance(sim, str)  # checked above
        message = InboundMessage(next(self._ids), _normalise(sim), sender, text, now)
        self.messages.append(message)
        return message

    def new_messages(
        self, argument: str | None, query: Mapping[str, str], tz: zoneinfo.ZoneInfo
    ) -> Reply:
        """``GET newsrsmsmessage[/{id_sim}]``: the unread ones, now marked read."""
        try:
            sims, limit = _sims(argument), _limit(query)
        except ApiError as error:
            return error_reply(error)
        fresh = [
            m for m in self.messages if not m.consumed and (sims is None or m.id_sim in sims)
        ][:limit]
        for message in fresh:
            message.consumed = True
        return json_reply(200, {"result": "OK", "messages": [m.item(tz) for m in fresh]})

    def history(self, argument: str | None, query: Mapping[str, str], now: float) -> Reply:
        """``GET srsmshistory[/{id_sim}]``: received in ``from``..``to``, newest first."""
        sim_part, _, after = (argument or "").partition("/")
        try:
            sims = _sims(sim_part)
            tz = parse_timezone(query.get("timezone"), "timezone", self.config.timezone)
            if after:
                return self._after(sims, after, query, tz)
            start = history_date(query, "from", tz, required=True) or 0.0
            end = history_date(query, "to", tz, required=False) or now
            page = positive_int(query, "pageNumber", 1)
            size = positive_int(query, "pageSize", 10)
        except ApiError as error:
            return error_reply(error)
        found = [
            m
            for m in reversed(self.messages)
            if start <= m.received_at <= end and (sims is None or m.id_sim in sims)
        ]
        items = [m.item(tz) for m in found[(page - 1) * size : page * size]]
        body = {"total": len(found), "pageNumber": page, "pageSize": size, "srsmshistory": items}
        return json_reply(200, body)

    def _after(
        self,
        sims: set[str] | None,
        after: str,
        query: Mapping[str, str],
        tz: zoneinfo.ZoneInfo,
    ) -> Reply:
        """``GET srsmshistory/{id_sim}/{id_message}``: received after that id, oldest first."""
        if not re.fullmatch(r"[0-9]{1,18}", after):
            raise ApiError(f"id_message must be a message id, not {after!r}.", "NOT_FOUND", 404)
        limit = _limit(query)
        found = [
            m for m in self.messages if m.id > int(after) and (sims is None or m.id_sim in sims)
        ][:limit]
        return json_reply(200, {"result": "OK", "srsmshistory": [m.item(tz) for m in found]})


__all__ = ["DEFAULT_SIM", "MAX_LIMIT", "InboundMessage", "Inbox"]
