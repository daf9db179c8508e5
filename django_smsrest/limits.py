"""Reading ``SMSREST["RATE_LIMITS"]``: how many login codes may go to one number, and to the
whole project, per window. Plain Python (no Django, no database): :mod:`django_smsrest.conf`
validates the setting with :func:`parse_rate_limits`, :mod:`django_smsrest.ratelimit` counts.

The setting::

    SMSREST = {
        "RATE_LIMITS": {
            "CODES_PER_NUMBER": ["5/hour", "10/day"],  # to any one number
            "CODES": ["60/minute"],  # to all numbers together
        },
    }

Each limit is ``"N/period"`` (``second``, ``minute``, ``hour``, ``day``) or a pair
``(N, seconds)``. An empty list (or ``None``) turns that kind of limit off; ``None`` for
the whole setting turns every limit off. Windows are fixed (``10/day`` counts from midnight
UTC), which is what an atomic counter in a shared database can keep exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["DEFAULT_RATE_LIMITS", "Limit", "RateLimits", "parse_rate_limits"]

PERIODS: Final[Mapping[str, int]] = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}

#: On by default: SMS-pumping fraud costs real money from the first day.
DEFAULT_RATE_LIMITS: Final[Mapping[str, list[str]]] = {
    "CODES_PER_NUMBER": ["5/hour", "10/day"],
    "CODES": ["60/minute"],
}
_KINDS: Final = ("CODES_PER_NUMBER", "CODES")


@dataclass(frozen=True)
class Limit:
    """At most ``count`` codes per ``seconds``-long window."""

    count: int
    seconds: int

    def __str__(self) -> str:
        for name, seconds in reversed(list(PERIODS.items())):
            if self.seconds == seconds:
                return f"{self.count}/{name}"
        return f"{self.count}/{self.seconds}s"


@dataclass(frozen=True)
class RateLimits:
    """The parsed setting: ``per_number`` and ``total`` (project-wide) limits."""

    per_number: tuple[Limit, ...] = ()
    total: tuple[Limit, ...] = ()


def _limit(value: Any) -> Limit | None:
    if isinstance(value, str):
        count, _slash, period = value.partition("/")
        seconds = PERIODS.get(period.strip().lower().rstrip("s"))
        if not count.strip().isdigit() or seconds is None:
            return None
        limit = Limit(int(count), seconds)
    elif (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        limit = Limit(value[0], value[1])
    else:
        return None
    return limit if limit.count >= 1 and limit.seconds >= 1 else None


def parse_rate_limits(value: Any) -> tuple[RateLimits, str | None]:
    """The limits, and what is wrong with ``value`` (``None`` when nothing is; the limits
    are then the defaults, so later checks still run)."""
    if value is None:
        return RateLimits(), None
    if not isinstance(value, Mapping):
        return _defaults(), f"must be a dict with the keys {', '.join(_KINDS)}, not {value!r}"
    unknown = sorted(str(key) for key in value if key not in _KINDS)
    if unknown:
        return _defaults(), f"has unknown keys {unknown} (known: {', '.join(_KINDS)})"
    parsed: dict[str, tuple[Limit, ...]] = {}
    for kind in _KINDS:
        items = value.get(kind) or []
        if isinstance(items, str):
            items = [items]
        limits = [_limit(item) for item in items]
        if not isinstance(items, list | tuple) or None in limits:
            return _defaults(), (
                f"[{kind!r}] must be a list of limits such as '5/hour' (second, minute, hour, "
                f"day) or (count, seconds) pairs, not {items!r}"
            )
        parsed[kind] = tuple(limit for limit in limits if limit is not None)
    return RateLimits(per_number=parsed["CODES_PER_NUMBER"], total=parsed["CODES"]), None


def _defaults() -> RateLimits:
    return parse_rate_limits(DEFAULT_RATE_LIMITS)[0]
