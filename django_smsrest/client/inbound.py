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
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django_smsrest.client.dates import history_params, parse_gateway_datetime
from django_smsrest.client.errors import _Call
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
    """

    gateway_id: str
    sender: str
    sim: str
    text: str
    received_at: datetime | None
    raw: Mapping[str, Any]
    unread: tuple[str, ...] = ()


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


def _date(value: Any, tz: tzinfo) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        # Epoch seconds or milliseconds.
        return datetime.fromtimestamp(value / 1000 if value > 10**11 else value, UTC)
    if isinstance(value, str):
        parsed = parse_gateway_datetime(value, tz)
        if parsed is not None:
            return parsed
        try:
            iso = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return iso if iso.tzinfo is not None else iso.replace(tzinfo=tz)
    return None


def parse_received_item(item: Mapping[str, Any], tz: tzinfo) -> ReceivedItem:
    """One item, read under the candidate names of :data:`FIELD_CANDIDATES`; dates that
    carry no zone are read in ``tz`` (the gateway's)."""
    values = {name: _first(item, names) for name, names in FIELD_CANDIDATES.items()}
    received_at = _date(values["received_at"], tz)
    unread = [name for name, value in values.items() if value is None]
    if values["received_at"] is not None and received_at is None:
        unread.append("received_at")
    texts = {name: _text(values[name]) for name in ("gateway_id", "sender", "sim", "text")}
    for name, limit in _MAX_FIELD.items():
        texts[name] = texts[name].strip()[:limit]
    if not texts["gateway_id"]:
        content = json.dumps(dict(item), sort_keys=True, default=str).encode()
        texts["gateway_id"] = "h:" + hashlib.sha256(content).hexdigest()[:40]
    return ReceivedItem(
        gateway_id=texts["gateway_id"],
        sender=texts["sender"],
        sim=texts["sim"],
        text=texts["text"],
        received_at=received_at,
        raw=dict(item),
        unread=tuple(sorted(set(unread))),
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
    skipped = len(rows) - len(items)
    if skipped:
        _log_once(
            f"{label}:nondict", "%s: %d item(s) are not JSON objects; skipped", label, skipped
        )
    for item in items:
        if item.unread:
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
