"""Counting login codes against ``SMSREST["RATE_LIMITS"]`` (:mod:`django_smsrest.limits`),
atomically across processes, in the database every worker shares.

How: one :class:`~django_smsrest.models.CodeRateCounter` row per key (a number, or ``"*"``
for the whole project), limit period and fixed window. :func:`consume` creates the rows it
needs (``bulk_create(ignore_conflicts=True)``: a row another process created first is
simply there) and then takes one unit from each with a conditional
``UPDATE ... SET count = count + 1 WHERE count < limit``. All of it runs in the caller's
transaction (the one that writes the message): when any counter is full the error rolls
back the units already taken, so a refused code costs nothing and counts nowhere. On
PostgreSQL the UPDATE locks the counter row until commit, so two processes cannot both take
the last unit; SQLite has one writer at a time. Counters are taken in one fixed order
(sorted), so two transactions never wait on each other in a circle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import F

from django_smsrest.limits import Limit, RateLimits
from django_smsrest.models import CodeRateCounter

__all__ = ["ALL", "Exceeded", "consume", "prune"]

#: The key of the project-wide counters.
ALL = "*"


@dataclass(frozen=True)
class Exceeded(Exception):
    """A counter is full: ``key`` (a number, or :data:`ALL`), the ``limit`` it hit, and
    when its window ends (``retry_at``)."""

    key: str
    limit: Limit
    retry_at: datetime


def _window(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def consume(numbers: Iterable[str], limits: RateLimits, now: datetime) -> None:
    """Take one code for each of ``numbers`` (and one per number from the project-wide
    limits). Raise :class:`Exceeded` for the first full counter; call inside the
    transaction that writes the message, so a refusal (or any later error) undoes it."""
    numbers = list(numbers)
    # (key, period) -> (the smallest limit of that period, units to take)
    need: dict[tuple[str, int], tuple[int, int]] = {}
    for key, limits_of_key, units in (
        *((number, limits.per_number, 1) for number in numbers),
        (ALL, limits.total, len(numbers)),
    ):
        for limit in limits_of_key:
            if units:
                count, taken = need.get((key, limit.seconds), (limit.count, 0))
                need[key, limit.seconds] = (min(count, limit.count), taken + units)
    if not need:
        return
    rows = sorted(
        (key, period, _window(now, period), count, units)
        for (key, period), (count, units) in need.items()
    )
    CodeRateCounter.objects.bulk_create(
        [CodeRateCounter(key=key, period=p, window_start=w) for key, p, w, _n, _u in rows],
        ignore_conflicts=True,
    )
    for key, period, start, count, units in rows:
        taken = CodeRateCounter.objects.filter(
            key=key, period=period, window_start=start, count__lte=count - units
        ).update(count=F("count") + units)
        if not taken:
            raise Exceeded(key, Limit(count, period), start + timedelta(seconds=period))


def prune(now: datetime) -> int:
    """Delete the counters of windows that ended a day or more ago (the sweep calls it)."""
    deleted, _ = CodeRateCounter.objects.filter(window_start__lt=now - timedelta(days=2)).delete()
    return deleted
