"""Received SMS (reference §7.2): ``GET newsrsmsmessage`` and ``GET srsmshistory``.

Plain functions over a :class:`~django_smsrest.client.api.SmsRestClient` (its class is
already near the 300-line limit): :func:`get_new_received` reads the server-side cursor,
:func:`get_received_history` re-reads without consuming.

**The item fields are not documented anywhere readable.** The provider's pages name the
endpoints and their parameters but show no response body; skebby-sdk uses ``id``,
``phoneNumber``, ``text`` and ``receivedDate`` (unverified). So every item is parsed
defensively: each field is looked up under several candidate names
(:data:`FIELD_CANDIDATES`), the item's raw JSON is always kept, and what could not be read
is logged once per process (not once per message: a poller runs every minute). An item
without any id gets a stable synthetic one (``h:`` + a hash of its content), so that storing
it twice is still impossible.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django_smsrest.client.dates import (
    SANE_EARLIEST,
    SANE_LATEST,
    gateway_datetime_out_of_window,
    history_params,
    in_sane_window,
    parse_gateway_datetime,
)
from django_smsrest.client.errors import _Call
from django_smsrest.client.hostile import Unparsed, item_problem, loads_page, safe_text
from django_smsrest.exceptions import UnexpectedResponse

if TYPE_CHECKING:
    from django_smsrest.client.api import SmsRestClient

__all__ = [
    "FIELD_CANDIDATES",
    "MAX_LIMIT",
    "ReceivedItem",
    "ReceivedPage",
    "get_new_received",
    "get_received_history",
    "parse_received_item",
]

logger = logging.getLogger("django_smsrest.client")

#: ``limit`` of ``newsrsmsmessage`` and ``srsmshistory/{sim}/{id}``: documented at most 100.
MAX_LIMIT = 100

#: Candidate names of each item field, the most likely first (none is documented).
FIELD_CANDIDATES: Mapping[str, tuple[str, ...]] = {
    "gateway_id": ("id", "id_message", "message_id", "idMessage", "sms_id", "smsId"),
    "sender": ("phoneNumber", "sender", "phone_number", "from", "msisdn", "src"),
    "sim": ("id_sim", "sim", "idSim", "recipient", "to", "receiver"),
    "text": ("text", "message", "body", "sms_text", "content"),
    "received_at": ("receivedDate", "received_date", "date", "sms_date", "received_at"),
}
#: The list inside the answer, by endpoint (guessed: see the module docstring).
_LIST_KEYS = ("messages", "srsmshistory", "sms", "smslist", "data", "items")

# Which "could not read" reports this process already logged (each once).
_logged: set[str] = set()
_logged_lock = threading.Lock()

_MAX_FIELD = {"gateway_id": 64, "sender": 32, "sim": 32}


def _log_once(key: str, message: str, *args: Any) -> None:
    with _logged_lock:
        if key in _logged:
            return
        _logged.add(key)
    logger.warning(message, *args)


def reset_logged() -> None:
    """Forget what was logged (tests)."""
    with _logged_lock:
        _logged.clear()


@dataclass(frozen=True)
class ReceivedItem:
    """One received SMS as read from the gateway.

    ``gateway_id`` is never empty (synthetic ``h:...`` when the item had none);
    ``received_at`` is ``None`` when no date could be read. ``unread`` names the fields no
    candidate name matched; ``raw`` is the item exactly as it came.

    ``problem`` is why the item must not be stored as a received SMS (``""``: it may): a
    date outside 2000-2099, NaN or Infinity, a NUL or a lone surrogate, nesting too deep
    (:func:`~django_smsrest.client.hostile.item_problem`). Such an item is quarantined by
    the caller; ``raw_text`` is then the item as storable text.
    """

    gateway_id: str
    sender: str
    sim: str
    text: str
    received_at: datetime | None
    raw: Mapping[str, Any]
    unread: tuple[str, ...] = ()
    problem: str = ""
    raw_text: str = ""


@dataclass(frozen=True)
class ReceivedPage:
    """One page of ``srsmshistory`` (newest first on the sandbox; order is not relied on)."""

    items: list[ReceivedItem]
    total: int | None = None
    page_number: int = 1
    page_size: int = MAX_LIMIT


def _first(item: Mapping[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        value = item.get(name)
        if value not in (None, ""):
            return value
    return None


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)


#: Epoch seconds of the sane window of :func:`~django_smsrest.client.dates.in_sane_window`.
_EPOCH_MIN = (SANE_EARLIEST.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
_EPOCH_MAX = (SANE_LATEST.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()


class _OutOfRange(ValueError):
    """A date that was read but lies outside any sane window (or is not a finite number)."""


def _date(value: Any, tz: tzinfo) -> datetime | None:
    """The item's date; ``None`` when unreadable; :class:`_OutOfRange` when it was read
    but is no date a gateway can mean (year 1, an epoch of 1e20)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        # Epoch seconds or milliseconds (NaN and Infinity are caught by item_problem).
        seconds = value / 1000 if value > 10**11 else value
        if not _EPOCH_MIN <= seconds < _EPOCH_MAX:
            raise _OutOfRange(f"received date {str(value)[:30]} is not a date in 2000-2099")
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        parsed = parse_gateway_datetime(value, tz)
        if parsed is not None:
            return parsed
        if gateway_datetime_out_of_window(value):
            raise _OutOfRange(f"received date {value[:30]!r} is not a date in 2000-2099")
        try:
            iso = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if not in_sane_window(iso):
            raise _OutOfRange(f"received date {value[:30]!r} is not a date in 2000-2099")
        return iso if iso.tzinfo is not None else iso.replace(tzinfo=tz)
    return None


def parse_received_item(item: Mapping[str, Any], tz: tzinfo) -> ReceivedItem:
    """One item, read under the candidate names of :data:`FIELD_CANDIDATES`; dates that
    carry no zone are read in ``tz`` (the gateway's)."""
    values = {name: _first(item, names) for name, names in FIELD_CANDIDATES.items()}
    problem = item_problem(item)
    received_at = None
    if not problem:
        try:
            received_at = _date(values["received_at"], tz)
        except _OutOfRange as exc:
            problem = str(exc)
    unread = [name for name, value in values.items() if value is None]
    if values["received_at"] is not None and received_at is None:
        unread.append("received_at")
    texts = {name: _text(values[name]) for name in ("gateway_id", "sender", "sim", "text")}
    for name, limit in _MAX_FIELD.items():
        texts[name] = texts[name].strip()[:limit]
    if not texts["gateway_id"]:
        content = safe_text(dict(item), limit=10**9).encode()
        texts["gateway_id"] = "h:" + hashlib.sha256(content).hexdigest()[:40]
    return ReceivedItem(
        gateway_id=texts["gateway_id"],
        sender=texts["sender"],
        sim=texts["sim"],
        text=texts["text"],
        received_at=received_at,
        raw=dict(item),
        unread=tuple(sorted(set(unread))),
        problem=problem,
        raw_text=safe_text(dict(item)) if problem else "",
    )


def _unparsed_item(row: Unparsed) -> ReceivedItem:
    """An item ``json`` could not parse (nested too deep): only its text is known."""
    digest = hashlib.sha256(row.text.encode("utf-8", "backslashreplace")).hexdigest()[:40]
    return ReceivedItem(
        gateway_id="h:" + digest,
        sender="",
        sim="",
        text="",
        received_at=None,
        raw={},
        problem=row.reason,
        raw_text=safe_text(row),
    )


def _items(data: Mapping[str, Any], label: str, tz: tzinfo) -> list[ReceivedItem]:
    rows: Any = None
    for key in _LIST_KEYS:
        if isinstance(data.get(key), list):
            rows = data[key]
            break
    if rows is None:
        lists = [key for key, value in data.items() if isinstance(value, list)]
        if len(lists) == 1:
            rows = data[lists[0]]
        else:
            _log_once(
                f"{label}:list",
                "%s: no list of messages in the answer (keys: %s); read as empty",
                label,
                ", ".join(sorted(map(str, data))[:10]),
            )
            return []
    items = [parse_received_item(row, tz) for row in rows if isinstance(row, dict)]
    items += [_unparsed_item(row) for row in rows if isinstance(row, Unparsed)]
    skipped = len(rows) - len(items)
    if skipped:
        _log_once(
            f"{label}:nondict", "%s: %d item(s) are not JSON objects; skipped", label, skipped
        )
    for item in items:
        if item.unread and not item.problem:
            _log_once(
                f"{label}:{','.join(item.unread)}",
                "%s: could not read %s in a received SMS (keys present: %s); the raw JSON is "
                "kept on the row. Logged once per process.",
                label,
                ", ".join(item.unread),
                ", ".join(sorted(map(str, item.raw))[:12]),
            )
    return items


def _json(client: SmsRestClient, call: _Call, params: Mapping[str, str]) -> dict[str, Any]:
    response = client._call(call, params=params)
    try:
        data = response.json()
    except RecursionError:  # an item nested too deep: read the others (client.hostile)
        try:
            data = loads_page(response.text)
        except ValueError:
            data = None
    except ValueError:
        data = None
    if isinstance(data, list):
        return {"messages": data}  # a bare list is accepted as the list of messages
    if not isinstance(data, dict):
        return client._json_object(response, call)  # raises UnexpectedResponse, explained
    return data


def get_new_received(
    client: SmsRestClient, *, limit: int = MAX_LIMIT, sims: Sequence[str] = ()
) -> list[ReceivedItem]:
    """``GET newsrsmsmessage[/{id_sim}]``: the messages received since the previous call of
    this method (by anyone with these credentials), at most ``limit`` (1..100).

    The gateway **consumes** what it returns: a caller that loses the answer (crash,
    timeout) must find those messages again with :func:`get_received_history`.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1 to {MAX_LIMIT}, not {limit!r}")
    path = "newsrsmsmessage"
    if sims:
        path += "/" + quote(",".join(sims), safe="+,")
    call = _Call("GET", path, "newsrsmsmessage", "history")
    data = _json(client, call, {"limit": str(limit)})
    result = data.get("result")
    if result is not None and str(result).upper() != "OK":
        raise UnexpectedResponse(
            f"{call.label} answered result {str(result)[:20]!r} instead of OK", status_code=200
        )
    return _items(data, "GET newsrsmsmessage", client.tz)


def get_received_history(
    client: SmsRestClient,
    date_from: datetime,
    date_to: datetime | None = None,
    *,
    page: int = 1,
    page_size: int = MAX_LIMIT,
) -> ReceivedPage:
    """``GET srsmshistory``: messages received between ``date_from`` and ``date_to``
    (aware; ``date_to`` defaults to now on the gateway), one page. Consumes nothing."""
    params, zone = history_params(
        date_from, date_to, page, page_size, client.tz, client.gateway_timezone
    )
    call = _Call("GET", "srsmshistory", "srsmshistory", "history")
    data = _json(client, call, params)
    total = data.get("total")
    # The dates come back in the zone asked for (as on the sandbox; assumed).
    tz = client.tz if zone == client.gateway_timezone else UTC
    return ReceivedPage(
        items=_items(data, "GET srsmshistory", tz),
        total=total if isinstance(total, int) and not isinstance(total, bool) else None,
        page_number=page,
        page_size=page_size,
    )
