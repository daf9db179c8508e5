"""The consent and retention part of the sweep (:func:`django_smsrest.services.sweep`
calls :func:`consent_sweep` once per run):

* ``SMSREST["RETENTION_DAYS"]``: purge finished messages and received SMS older than
  that, at most :data:`RETENTION_PER_SWEEP` of each per run (the next run goes on);
* ``SMSREST["SYNC_BLACKLIST"]``: sync the suppression list with the gateway's blacklist,
  at most every :data:`SYNC_EVERY`.

Each step logs and counts its own failure; none stops the sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django_smsrest.conf import get_settings

logger = logging.getLogger("django_smsrest")

#: Rows of each kind one sweep purges at most: the sweep stays short, the backlog of a
#: first run is worked off over the following minutes.
RETENTION_PER_SWEEP = 2000
#: How often the sweep syncs the blacklist (a full pull is a few requests per 1000 numbers).
SYNC_EVERY = timedelta(hours=1)
SYNC_KEY = "django_smsrest:blacklist-sync"


def consent_sweep(now: datetime, keep: Callable[[], None]) -> int:
    """Run the enabled steps; return how many failed (logged)."""
    conf = get_settings()
    errors = 0
    if conf.retention_days is not None:
        from django_smsrest.services.retention import cleanup

        try:
            cleaned = cleanup(conf.retention_days, now=now, limit=RETENTION_PER_SWEEP, keep=keep)
            if cleaned.messages or cleaned.received:
                logger.info(
                    "Retention: deleted %d messages and %d received SMS older than %d days",
                    cleaned.messages,
                    cleaned.received,
                    conf.retention_days,
                )
        except Exception:
            logger.exception("Retention sweep failed")
            errors += 1
    if conf.sync_blacklist and _sync_due(conf.cache):
        from django_smsrest.services.blacklist import sync_blacklist

        try:
            synced = sync_blacklist()
            logger.info(
                "Blacklist sync: %d read (%d new here), %d pushed, %d refused",
                synced.pulled,
                synced.added,
                synced.pushed,
                len(synced.refused),
            )
        except Exception:
            logger.exception("Blacklist sync failed")
            errors += 1
        keep()
    return errors


def _sync_due(cache_alias: str) -> bool:
    """True at most once per :data:`SYNC_EVERY` across workers sharing the cache (a lost
    cache entry costs one extra sync, which is harmless)."""
    from django.core.cache import caches

    return bool(caches[cache_alias].add(SYNC_KEY, 1, timeout=SYNC_EVERY.total_seconds()))
