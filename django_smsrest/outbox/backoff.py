"""How long to wait before the next attempt: capped exponential backoff, full jitter."""

from __future__ import annotations

import random

from django_smsrest.conf import SmsRestSettings

#: A ``Retry-After`` longer than this is capped (seconds).
RETRY_AFTER_MAX = 6 * 3600.0
# Full jitter needs no cryptographic quality; a private instance keeps tests able to seed it.
_random = random.Random()


def retry_delay(
    attempts: int, conf: SmsRestSettings, *, retry_after: float | None = None
) -> float:
    """Seconds to wait before attempt ``attempts + 1``: capped exponential backoff with
    full jitter, ``uniform(0, min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**(attempts-1)))``
    (AWS Builders' Library). A gateway's ``Retry-After`` is a floor (capped at 6 hours)."""
    ceiling = min(conf.retry_max_seconds, conf.retry_base_seconds * 2 ** max(attempts - 1, 0))
    delay = _random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(float(retry_after), RETRY_AFTER_MAX))
    return delay
