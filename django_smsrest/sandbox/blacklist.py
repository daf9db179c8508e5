"""The SMS blacklist (integrations reference §1 rows 10-14): ``GET blacklist/sms``,
``POST blacklist/sms?phoneNumber=``, ``POST blacklist/smsbatch``.

What is documented (smSend "SMS Blacklist API" pages) and what the sandbox invents:

* Documented: ``POST blacklist/sms`` takes the number in the ``phoneNumber`` query
  parameter (``+...`` or ``00...``), 200 or 400 for an invalid one; ``POST
  blacklist/smsbatch`` takes a JSON array of numbers, all or nothing (one bad number: 400
  and nothing stored), and answers the count added; ``GET blacklist/sms`` filters by
  ``from``/``to`` (``yyyy-MM-dd HH:mm:ss``), ``timezone``, ``number`` (a substring),
  ``origins`` (``API,WEB,STOPSMS``), and pages with ``pageNumber``/``pageSize``; the Stop
  SMS service adds the numbers that reply STOP with origin ``STOPSMS``.
* Invented (no source shows a body): the page ``{"total", "pageNumber", "pageSize",
  "blacklist": [...]}`` and its items ``{"phoneNumber", "origin", "insertDate"}``, and the
  answer ``{"result": "OK"}`` to the one-number POST. Entries are listed oldest first.

Numbers reach the list from these endpoints (origin ``API``) and from
``POST /_sandbox/blacklist`` ``{"phoneNumber": "+39...", "origin": "WEB" | "STOPSMS"}``
(a person in the web panel, or someone replying STOP). :class:`Blacklist` holds no lock
of its own: the state calls it with its lock held.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django_smsrest.sandbox.config import RECIPIENT_RE
from django_smsrest.sandbox.queries import positive_int
from django_smsrest.sandbox.replies import Reply, error_reply, json_reply
from django_smsrest.sandbox.validation import ApiError, parse_timezone

#: The endpoints, for the route table (path: methods).
ROUTES: Mapping[str, tuple[str, ...]] = {
    "blacklist/sms": ("GET", "POST"),
    "blacklist/smsbatch": ("POST",),
}
LABELS = frozenset(f"{m} {path}" for path, methods in ROUTES.items() for m in methods)
ORIGINS = ("API", "WEB", "STOPSMS")
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class Entry:
    number: str
    origin: str
    added_at: float

    def item(self, tz: zoneinfo.ZoneInfo) -> dict[str, str]:
        """The API item (invented field names: see the module docstring)."""
        when = datetime.fromtimestamp(self.added_at, tz).strftime(_DATE_FORMAT)
        return {"phoneNumber": self.number, "origin": self.origin, "insertDate": when}


def _normalise(number: str) -> str:
    return "+" + number[2:] if number.startswith("00") else number


def _number(value: Any) -> str:
    if not isinstance(value, str) or not RECIPIENT_RE.fullmatch(value.strip()):
        raise ApiError(
            f"phoneNumber must be an international number (+393471234567 or "
            f"00393471234567), not {value!r}.",
            "INVALID_PHONE_NUMBER",
        )
    return _normalise(value.strip())


def _date(query: Mapping[str, str], name: str, tz: zoneinfo.ZoneInfo) -> float | None:
    value = query.get(name, "")
    if not value:
        return None
    try:
        return datetime.strptime(value, _DATE_FORMAT).replace(tzinfo=tz).timestamp()
    except ValueError:
        raise ApiError(
            f"{name} must be a date as yyyy-MM-dd HH:mm:ss, not {value!r}.", "INVALID_PARAMETER"
        ) from None


class Blacklist:
    """The account's blacklisted numbers, in the order they were added."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def clear(self) -> None:
        self.entries.clear()

    def add(self, number: str, origin: str, now: float) -> bool:
        """Add one number (already checked); ``False`` when it was there."""
        if number in self.entries:
            return False
        self.entries[number] = Entry(number, origin, now)
        return True

    def control(self, data: Mapping[str, Any], now: float) -> dict[str, Any]:
        """``POST /_sandbox/blacklist``; ``ValueError`` when invalid."""
        origin = data.get("origin", "WEB")
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, not {origin!r}")
        try:
            number = _number(data.get("phoneNumber"))
        except ApiError as error:
            raise ValueError(error.message) from None
        added = self.add(number, str(origin), now)
        return {"result": "OK", "added": added, "phoneNumber": number, "origin": origin}

    def handle(
        self, label: str, query: Mapping[str, str], body: bytes, now: float, tz: zoneinfo.ZoneInfo
    ) -> Reply:
        try:
            if label == "POST blacklist/sms":
                self.add(_number(query.get("phoneNumber")), "API", now)
                return json_reply(200, {"result": "OK"})
            if label == "POST blacklist/smsbatch":
                return self._batch(body, now)
            return self._list(query, tz)
        except ApiError as error:
            return error_reply(error)

    def _batch(self, body: bytes, now: float) -> Reply:
        try:
            numbers = json.loads(body or b"null")
        except ValueError:
            numbers = None
        if not isinstance(numbers, list) or not numbers:
            raise ApiError("The body must be a JSON array of phone numbers.", "INVALID_PARAMETER")
        checked = [_number(n) for n in numbers]  # all or nothing: checked before any is added
        added = sum(self.add(n, "API", now) for n in dict.fromkeys(checked))
        return json_reply(200, added)

    def _list(self, query: Mapping[str, str], default_tz: zoneinfo.ZoneInfo) -> Reply:
        tz = parse_timezone(query.get("timezone"), "timezone", default_tz.key)
        start = _date(query, "from", tz)
        end = _date(query, "to", tz)
        wanted = [o.strip().upper() for o in query.get("origins", "").split(",") if o.strip()]
        unknown = [o for o in wanted if o not in ORIGINS]
        if unknown:
            raise ApiError(
                f"origins must be among {','.join(ORIGINS)}, not {','.join(unknown)}.",
                "INVALID_PARAMETER",
            )
        part = query.get("number", "")
        page = positive_int(query, "pageNumber", 1)
        size = positive_int(query, "pageSize", 10)
        found = [
            e
            for e in self.entries.values()
            if (start is None or e.added_at >= start)
            and (end is None or e.added_at <= end)
            and (not wanted or e.origin in wanted)
            and part in e.number
        ]
        items = [e.item(tz) for e in found[(page - 1) * size : page * size]]
        return json_reply(
            200, {"total": len(found), "pageNumber": page, "pageSize": size, "blacklist": items}
        )

    def inspect(self, tz: zoneinfo.ZoneInfo) -> list[dict[str, str]]:
        return [e.item(tz) for e in self.entries.values()]


__all__ = ["LABELS", "ORIGINS", "ROUTES", "Blacklist", "Entry"]
