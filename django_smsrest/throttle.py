"""The account-wide pause after a 429.

A 429 from the gateway is about the account, not about one message: every other message
would get the same answer until ``Retry-After`` has passed, and each of them would burn an
attempt (and add to the load the gateway is pushing back on). So when a send is rate
limited, :mod:`django_smsrest.outbox` pauses the whole sender until the retry time it chose
for that message, and :mod:`django_smsrest.services` holds every other send until then
(``send_message`` moves the message's ``next_attempt_at`` instead of posting it,
``flush_queue`` stops, ``sweep`` does not re-enqueue queued rows). Reconciling and
delivery-status checks (GETs) go on.

The pause lives in Django's cache (the alias ``SMSREST['CACHE']``, ``"default"`` unless
set) under :data:`CACHE_KEY`, with the pause's length as its timeout. Workers are separate
processes, so where the pause holds depends on that cache: with Django's default
per-process ``LocMemCache`` it holds within one process only; configure a shared cache
(Redis, Memcached, the database cache) for it to hold across every worker.

The pause is a hint, never a gate that can jam the outbox: a cache that fails (down,
misconfigured) is logged and sending carries on as if not paused.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache, InvalidCacheBackendError
from django.utils import timezone

from django_smsrest.conf import SETTING_NAME, SmsRestSettings, get_settings

__all__ = ["CACHE_KEY", "clear_pause", "pause_sending", "sending_paused_until"]

logger = logging.getLogger("django_smsrest")

#: The cache key holding the end of the pause (an aware ``datetime``).
CACHE_KEY = "django_smsrest:paused_until"

# Unknown aliases already logged (once per process is enough; the system check reports it
# at start-up too).
_reported: set[str] = set()


def cache_error(alias: str) -> str:
    """The message for an unknown ``SMSREST['CACHE']`` alias (also used by the check)."""
    return (
        f"{SETTING_NAME}['CACHE'] is {alias!r}, which is not an alias in CACHES. Set it to "
        f"one of your CACHES aliases, for example: {SETTING_NAME} = {{'CACHE': 'default', ...}}"
    )


def app_cache(conf: SmsRestSettings | None = None) -> BaseCache | None:
    """The app's cache, ``SMSREST['CACHE']`` (the pause, the admin's credits), or ``None``
    (logged) when the alias is not in ``CACHES``."""
    alias = (conf or get_settings()).cache
    try:
        return caches[alias]
    except InvalidCacheBackendError:
        if alias not in _reported:
            _reported.add(alias)
            logger.error("%s The account-wide pause after a 429 is off.", cache_error(alias))
        return None


_cache = app_cache


def pause_sending(until: datetime, *, conf: SmsRestSettings | None = None) -> None:
    """Pause sending for the whole account until ``until``; an existing later pause is
    kept. A time already past does nothing.

    Two workers pausing at the same moment may race (read, then write): the pause kept is
    then one of the two, never none, which is all a rate limit needs."""
    cache = _cache(conf)
    if cache is None:
        return
    seconds = (until - timezone.now()).total_seconds()
    if seconds <= 0:
        return
    try:
        current = cache.get(CACHE_KEY)
        if isinstance(current, datetime) and current >= until:
            return
        cache.set(CACHE_KEY, until, timeout=math.ceil(seconds))
    except Exception:
        logger.warning("Could not store the sending pause in the cache", exc_info=True)
        return
    logger.warning(
        "Gateway rate limiting the account: sending paused until %s",
        timezone.localtime(until).isoformat(timespec="seconds"),
    )


def sending_paused_until(
    now: datetime | None = None, *, conf: SmsRestSettings | None = None
) -> datetime | None:
    """The end of the current pause, or ``None`` when sending is not paused (or the cache
    cannot be read: a broken cache never stops sending)."""
    cache = _cache(conf)
    if cache is None:
        return None
    try:
        until = cache.get(CACHE_KEY)
    except Exception:
        logger.warning("Could not read the sending pause from the cache", exc_info=True)
        return None
    if not isinstance(until, datetime):
        return None
    if until <= (now or timezone.now()):
        return None
    return until


def clear_pause(*, conf: SmsRestSettings | None = None) -> None:
    """End the pause now (tests, or an operator who knows the limit has been lifted)."""
    cache = _cache(conf)
    if cache is None:
        return
    try:
        cache.delete(CACHE_KEY)
    except Exception:
        logger.warning("Could not clear the sending pause in the cache", exc_info=True)
