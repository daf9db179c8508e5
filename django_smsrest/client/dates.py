"""The gateway's date format: wall-clock ``yyyyMMddHHmmss`` in the gateway's zone, sent with
the zone's name; in UTC on the night the clocks go back (see :func:`gateway_time`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo
from typing import Any

logger = logging.getLogger("django_smsrest.client")

_GATEWAY_DATE_FORMAT = "%Y%m%d%H%M%S"
_GATEWAY_DATE_FORMATS = (
    "%Y%m%d%H%M%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y%m%d%H%M",
)


#: The dates a gateway answer may sensibly carry, as wall-clock times (naive, compared
#: before any zone is attached, so that year 1 or 9999 cannot overflow a conversion).
#: Anything outside (``00010101000000``, a year 9999 "never") is read as no date: stored,
#: year 1 becomes 1 BC on PostgreSQL and breaks every page that shows it.
SANE_EARLIEST = datetime(2000, 1, 1)
SANE_LATEST = datetime(2100, 1, 1)


def in_sane_window(naive: datetime) -> bool:
    """Whether the wall-clock time ``naive`` lies in ``[SANE_EARLIEST, SANE_LATEST)``."""
    return SANE_EARLIEST <= naive.replace(tzinfo=None) < SANE_LATEST


#: The zone used instead of the gateway's when a local time would be ambiguous.
UNAMBIGUOUS_ZONE = "UTC"


def _local(value: datetime, tz: tzinfo) -> datetime:
    """``value`` as a wall-clock time in ``tz``, through UTC.

    Through UTC because ``value.astimezone(tz)`` returns ``value`` unchanged when it is
    already in ``tz``, even when it names a time that does not exist there (02:30 on a
    spring-forward day); via UTC it becomes the time that exists (03:30 summer time) for
    the same instant.
    """
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            "the gateway needs an aware datetime (a naive one is ambiguous); "
            "use django.utils.timezone.now() or datetime.now(tz)"
        )
    return value.astimezone(UTC).astimezone(tz)


def is_ambiguous(local: datetime) -> bool:
    """Whether the wall-clock time of ``local`` happens twice in its zone (the autumn
    fold), so that ``yyyyMMddHHmmss`` plus the zone name does not say which instant."""
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def gateway_time(value: datetime, tz: tzinfo, zone: str) -> tuple[str, str]:
    """``(text, zone name)`` that name ``value`` (aware) without ambiguity for the gateway.

    The gateway reads a wall-clock ``yyyyMMddHHmmss`` in the IANA zone sent beside it
    (``scheduled_delivery_timezone``, ``timezone``) and documents no offset syntax. So the
    time goes in ``zone`` (``tz``'s name) as usual, except when that wall-clock time
    happens twice there (02:00-02:59 on the last Sunday of October in Europe/Rome): then
    it goes in UTC, which is a documented IANA zone and has no fold, so a gateway that
    resolves a fold to the first occurrence cannot send an hour early.
    """
    local = _local(value, tz)
    if is_ambiguous(local):
        return value.astimezone(UTC).strftime(_GATEWAY_DATE_FORMAT), UNAMBIGUOUS_ZONE
    return local.strftime(_GATEWAY_DATE_FORMAT), zone


def format_gateway_datetime(value: datetime, tz: tzinfo) -> str:
    """``value`` (aware) as the gateway's ``yyyyMMddHHmmss`` in ``tz`` (a time at a fold
    stays ambiguous here: use :func:`gateway_time` for what is sent)."""
    return _local(value, tz).strftime(_GATEWAY_DATE_FORMAT)


def parse_gateway_datetime(value: Any, tz: tzinfo) -> datetime | None:
    """A gateway date (``yyyyMMddHHmmss`` in ``tz``) as an aware datetime; ``None`` for
    empty or unreadable values, and for dates outside :func:`in_sane_window`."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if value.endswith(".0"):
        value = value[:-2]
    for fmt in _GATEWAY_DATE_FORMATS:
        try:
            naive = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if not in_sane_window(naive):
            logger.debug("gateway date %r outside %s..%s", value[:40], SANE_EARLIEST, SANE_LATEST)
            return None
        return naive.replace(tzinfo=tz)
    logger.debug("unreadable gateway date %r", value[:40])
    return None


def gateway_datetime_out_of_window(value: str) -> bool:
    """Whether ``value`` reads as a gateway date that :func:`parse_gateway_datetime`
    refused for lying outside :func:`in_sane_window` (not merely unreadable)."""
    value = value.strip().removesuffix(".0")
    for fmt in _GATEWAY_DATE_FORMATS:
        try:
            return not in_sane_window(datetime.strptime(value, fmt))
        except ValueError:
            continue
    return False


def history_params(
    date_from: datetime,
    date_to: datetime | None,
    page: int,
    page_size: int,
    tz: tzinfo,
    zone: str,
) -> tuple[dict[str, str], str]:
    """The query of a history endpoint (``smshistory``, ``srsmshistory``) for the aware
    ``date_from`` .. ``date_to`` (``None``: until now, on the gateway) and the page, and the
    zone its dates are in: ``zone``, or UTC for both when either date is at the autumn
    fold (one zone for both filters). ``ValueError`` for a page or size below 1."""
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size must be >= 1")
    dates = [date_from] if date_to is None else [date_from, date_to]
    times = [gateway_time(d, tz, zone) for d in dates]
    if any(z != zone for _, z in times):
        zone = UNAMBIGUOUS_ZONE
        times = [gateway_time(d, UTC, zone) for d in dates]
    params = {
        "from": times[0][0],
        "timezone": zone,
        "pageNumber": str(page),
        "pageSize": str(page_size),
    }
    if date_to is not None:
        params["to"] = times[1][0]
    return params, zone
