"""Seed a month of messages for the dashboard tests (and the browser test's pictures).

Rows are written with ``bulk_create`` and the timestamps set directly (``created_at`` is
``auto_now_add``; it is switched off while seeding), so 100,000 rows take seconds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone

from django_smsrest.models import SmsMessage, Status

REASONS = [
    "Login refused: wrong username or password",
    "The gateway refused the message: invalid sender",
    "Too many messages to this number",
    "Unknown recipient",
    "",
]
# (status, weight): most delivered, some failed, a few of everything else.
MIX = [
    (Status.DELIVERED, 70),
    (Status.SENT, 8),
    (Status.FAILED, 8),
    (Status.UNDELIVERED, 4),
    (Status.PARTIALLY_DELIVERED, 3),
    (Status.QUEUED, 3),
    (Status.SCHEDULED, 2),
    (Status.CANCELLED, 2),
]


@contextmanager
def _own_timestamps() -> Iterator[None]:
    field = SmsMessage._meta.get_field("created_at")
    saved = field.auto_now_add  # type: ignore[union-attr]
    field.auto_now_add = False  # type: ignore[union-attr]
    try:
        yield
    finally:
        field.auto_now_add = saved  # type: ignore[union-attr]


def seed(n: int, *, now: datetime | None = None, days: int = 30, seed: int = 17) -> None:
    """``n`` messages spread over the last ``days`` days, with outcomes from :data:`MIX`,
    failure reasons from :data:`REASONS`, and credits going down over the month."""
    rng = random.Random(seed)
    now = now or timezone.now()
    # From the start of the first of the ``days`` local days to a minute ago.
    first = timezone.localdate(now) - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    span = (now - start).total_seconds() - 60
    statuses = [s for s, w in MIX for _ in range(w)]
    credits = {"N": 20_000, "L": 8_000}
    rows = []
    for i in range(n):
        # Older first, so the credits go down with time.
        created = start + timedelta(seconds=span * i / max(n - 1, 1))
        status = rng.choice(statuses)
        mtype = "N" if i % 3 else "L"
        sent = created + timedelta(seconds=rng.randint(1, 30))
        accepted = status not in (Status.QUEUED, Status.CANCELLED, Status.FAILED)
        if accepted:
            credits[mtype] = max(credits[mtype] - rng.randint(1, 3), 0)
        failed = status in (Status.FAILED, Status.UNDELIVERED)
        rows.append(
            SmsMessage(
                message=f"Seeded message {i}: your appointment is confirmed for tomorrow.",
                message_type=mtype,
                status=status,
                recipient_count=1,
                created_at=created,
                sent_at=sent if accepted else None,
                finished_at=(
                    sent + timedelta(seconds=rng.randint(5, 600))
                    if status in (Status.DELIVERED, Status.UNDELIVERED, Status.FAILED)
                    else None
                ),
                remaining_credits=credits[mtype] if accepted else None,
                last_error=rng.choice(REASONS) if failed else "",
                next_attempt_at=created if status == Status.QUEUED else None,
            )
        )
    with _own_timestamps():
        SmsMessage.objects.bulk_create(rows, batch_size=2000)
