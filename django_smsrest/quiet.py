"""Quiet hours (``SMSREST["QUIET_HOURS"] = ("21:00", "09:00")``): when a marketing message
may reach its recipients. Plain Python over :mod:`zoneinfo` and phonenumbers' time-zone
data; no database, no settings read (the caller passes them).

* A recipient's zone is the one phonenumbers knows for the number's prefix. A number whose
  region spans several zones with different clocks (an Australian or Russian mobile) uses
  the project's ``TIME_ZONE`` when it is one of them, else the first one listed; a number
  phonenumbers places nowhere uses ``TIME_ZONE``.
* Quiet hours are wall-clock times in each zone, so they follow daylight saving time: on
  the night the clocks change, "until 09:00" is still 09:00 local (the night is an hour
  shorter or longer in UTC). A start after the end spans midnight.
* A message to several zones waits until none of its recipients is inside quiet hours;
  when no such moment comes within two days (zones half a world apart), it waits until
  the latest of the ends instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as number_zones

__all__ = ["in_quiet_hours", "quiet_until", "zone_for_number", "zones_for"]

_UNKNOWN = "Etc/Unknown"


@lru_cache(maxsize=4096)
def zone_for_number(number: str, default: str) -> str:
    """The IANA zone of an E.164 ``number`` (see the module docstring), else ``default``."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return default
    names = [z for z in number_zones.time_zones_for_number(parsed) if z != _UNKNOWN]
    if not names:
        return default
    now = datetime.now(UTC)
    offsets = {now.astimezone(ZoneInfo(z)).utcoffset() for z in names}
    if len(offsets) == 1:
        return names[0]
    return default if default in names else names[0]


def zones_for(numbers: Iterable[str], default: str) -> set[str]:
    """The distinct zones of ``numbers`` (``{default}`` when there are none)."""
    return {zone_for_number(n, default) for n in numbers} or {default}


def in_quiet_hours(moment: datetime, zone: str, start: time, end: time) -> bool:
    """Whether the aware ``moment`` falls inside ``start``..``end`` in ``zone``."""
    local = moment.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def _wall(day: date, clock: time, zone: str) -> datetime:
    """``clock`` on ``day`` in ``zone``, as an aware UTC datetime (a wall time in the
    spring gap is read with the offset before the change: a little later, never earlier)."""
    return datetime.combine(day, clock, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _end_after(moment: datetime, zone: str, end: time) -> datetime:
    """The first ``end`` wall time in ``zone`` after ``moment``."""
    day = moment.astimezone(ZoneInfo(zone)).date()
    for offset in range(3):
        candidate = _wall(day + timedelta(days=offset), end, zone)
        if candidate > moment:
            return candidate
    raise AssertionError("an end of quiet hours always comes within three days")


def quiet_until(now: datetime, zones: Iterable[str], start: time, end: time) -> datetime | None:
    """When a marketing message due ``now`` to recipients in ``zones`` may go: ``None``
    when no recipient is inside quiet hours now, else the first moment none is (see the
    module docstring)."""
    zones = sorted(set(zones))
    if not any(in_quiet_hours(now, z, start, end) for z in zones):
        return None
    ends = sorted({_end_after(now + timedelta(days=d), z, end) for z in zones for d in (0, 1)})
    for candidate in ends:
        if not any(in_quiet_hours(candidate, z, start, end) for z in zones):
            return candidate
    return max(_end_after(now, z, end) for z in zones if in_quiet_hours(now, z, start, end))
