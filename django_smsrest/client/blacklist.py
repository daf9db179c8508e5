"""The gateway's SMS blacklist (integrations reference §1 rows 10-14): read it with
:func:`get_blacklist` (``GET blacklist/sms``), add to it with :func:`add_to_blacklist`
(``POST blacklist/sms?phoneNumber=``) and :func:`add_many_to_blacklist`
(``POST blacklist/smsbatch``, all or nothing).

Plain functions over a :class:`~django_smsrest.client.api.SmsRestClient`, like
:mod:`~django_smsrest.client.inbound`. The parameters are documented; **the list's item
fields are not**, so each is looked up under several names (:data:`FIELD_CANDIDATES`)
and the raw item is kept. Entries whose number cannot be read are skipped and logged
once per process. The gateway documents no way to remove a number.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django_smsrest.client.dates import is_ambiguous
from django_smsrest.client.errors import _Call
from django_smsrest.client.parsing import read_list_page

if TYPE_CHECKING:
    from django_smsrest.client.api import SmsRestClient

__all__ = [
    "FIELD_CANDIDATES",
    "ORIGINS",
    "BlacklistEntry",
    "BlacklistPage",
    "add_many_to_blacklist",
    "add_to_blacklist",
    "get_blacklist",
]

logger = logging.getLogger("django_smsrest.client")

#: The documented ``origins``: added through the API, the web panel, or the Stop SMS
#: service (someone replied STOP).
ORIGINS = ("API", "WEB", "STOPSMS")
#: Candidate names of each item field, the most likely first (none is documented).
FIELD_CANDIDATES: Mapping[str, tuple[str, ...]] = {
    "number": ("phoneNumber", "phone_number", "number", "recipient", "msisdn"),
    "origin": ("origin", "source", "type"),
    "added_at": ("insertDate", "insert_date", "date", "creationDate", "created"),
}
_LIST_KEYS = ("blacklist", "numbers", "phoneNumbers", "items", "data")
_TOTAL_KEYS = ("total", "totalElements", "totalCount", "count")
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_warned: set[str] = set()


@dataclass(frozen=True)
class BlacklistEntry:
    """One blacklisted number (E.164 as the gateway wrote it), its origin (``API``,
    ``WEB``, ``STOPSMS``; ``""`` when unreadable) and when it was added."""

    number: str
    origin: str = ""
    added_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class BlacklistPage:
    """One page of :func:`get_blacklist`; ``total`` when the gateway said it."""

    entries: tuple[BlacklistEntry, ...]
    page_number: int
    page_size: int
    total: int | None = None


def _first(item: Mapping[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        if item.get(name) not in (None, ""):
            return item[name]
    return None


def _warn_once(key: str, message: str, *args: Any) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


def _entry(item: Any, tz: Any) -> BlacklistEntry | None:
    if isinstance(item, str):  # a bare list of numbers
        return BlacklistEntry(number=item.strip())
    if not isinstance(item, Mapping):
        return None
    number = _first(item, FIELD_CANDIDATES["number"])
    if not isinstance(number, str) or not number.strip():
        _warn_once(
            "number",
            "GET blacklist/sms: an item without a readable number (keys: %s); skipped",
            ", ".join(sorted(map(str, item))[:10]),
        )
        return None
    origin = _first(item, FIELD_CANDIDATES["origin"])
    when = _first(item, FIELD_CANDIDATES["added_at"])
    added_at = None
    if isinstance(when, str):
        try:
            added_at = datetime.strptime(when.strip()[:19], _DATE_FORMAT).replace(tzinfo=tz)
        except ValueError:
            added_at = None
    return BlacklistEntry(
        number=number.strip(),
        origin=str(origin).upper() if origin is not None else "",
        added_at=added_at,
        raw=dict(item),
    )


def get_blacklist(
    client: SmsRestClient,
    *,
    page: int = 1,
    page_size: int = 100,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    number: str | None = None,
    origins: Iterable[str] = (),
) -> BlacklistPage:
    """``GET blacklist/sms``: one page (``page`` from 1) of the blacklisted numbers,
    optionally added in ``date_from``..``date_to`` (aware), containing ``number``, with
    one of ``origins``. ``ValueError`` for a bad argument (before any request)."""
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size must be >= 1")
    wanted = [str(o).upper() for o in origins]
    if any(o not in ORIGINS for o in wanted):
        raise ValueError(f"origins must be among {', '.join(ORIGINS)}, not {wanted!r}")
    zone = client.gateway_timezone
    dates = [d for d in (date_from, date_to) if d is not None]
    if any(is_ambiguous(d.astimezone(client.tz)) for d in dates):
        zone = "UTC"  # the autumn fold: one zone for both filters, without ambiguity
    tz = client.tz if zone == client.gateway_timezone else UTC
    params = {"pageNumber": str(page), "pageSize": str(page_size), "timezone": zone}
    if date_from is not None:
        params["from"] = date_from.astimezone(tz).strftime(_DATE_FORMAT)
    if date_to is not None:
        params["to"] = date_to.astimezone(tz).strftime(_DATE_FORMAT)
    if number:
        params["number"] = number
    if wanted:
        params["origins"] = ",".join(wanted)
    call = _Call("GET", "blacklist/sms", "blacklist/sms", "history")
    response = client._call(call, params=params)
    rows, total = read_list_page(response, client.host, call, _LIST_KEYS, _TOTAL_KEYS)
    entries = tuple(e for e in (_entry(item, tz) for item in rows) if e is not None)
    return BlacklistPage(entries=entries, page_number=page, page_size=page_size, total=total)


def add_to_blacklist(client: SmsRestClient, number: str) -> None:
    """``POST blacklist/sms?phoneNumber=``: blacklist one number (``+...``/``00...``); a
    400 (``GatewayRejected``) for an invalid one. Adding a number twice is harmless."""
    if not isinstance(number, str) or not number.strip():
        raise ValueError("number must be a non-empty string")
    call = _Call("POST", "blacklist/sms", "blacklist/sms", "status")
    client._call(call, params={"phoneNumber": number.strip()})


def add_many_to_blacklist(client: SmsRestClient, numbers: Sequence[str]) -> int | None:
    """``POST blacklist/smsbatch``: blacklist every one of ``numbers``, all or nothing
    (one invalid number: 400 and nothing stored). Returns the count the gateway says it
    added, or ``None`` when its answer is not a number."""
    items = list(numbers)
    if not items or not all(isinstance(n, str) and n.strip() for n in items):
        raise ValueError("numbers must be a non-empty list of phone numbers")
    call = _Call("POST", "blacklist/smsbatch", "blacklist/smsbatch", "status")
    response = client._call(call, json_body=[n.strip() for n in items])
    try:
        count = response.json()
    except ValueError:
        count = (response.text or "").strip()
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    return count if isinstance(count, int) and not isinstance(count, bool) else None
