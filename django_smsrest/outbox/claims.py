"""Claims and leases: the conditional UPDATEs that let one worker at a time work on a
message (or hold a named lock), and the conditions that say what is due and free."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import router, transaction
from django.db.models import F, Q
from django.utils import timezone

from django_smsrest.conf import SmsRestSettings
from django_smsrest.models import (
    OutboxLock,
    SmsMessage,
    Status,
)


def due_q(now: datetime) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def lease_free_q(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def outbox_db() -> str:
    """The database alias the outbox writes to (honours database routers)."""
    return router.db_for_write(SmsMessage)


def on_commit(func: Callable[[], Any]) -> None:
    """Run ``func`` after the current transaction commits (now, outside one); an exception
    in it is logged, not raised: the committed row stays and the sweeper picks it up."""
    transaction.on_commit(func, using=outbox_db(), robust=True)


class LostClaim(Exception):
    """Our claim token was replaced (lease expired and another worker took over)."""


def claim(
    pk: int,
    now: datetime,
    conf: SmsRestSettings,
    *conditions: Q,
    sending: bool = False,
    **match: Any,
) -> str | None:
    """One conditional UPDATE taking a lease on the row; the new claim token if this call
    won, ``None`` if the row did not match (another worker won, or it is not in a state
    this operation applies to). ``sending`` also moves it to SENDING and counts an attempt.
    """
    token = uuid.uuid4().hex
    changes: dict[str, Any] = {
        "claim_token": token,
        "lease_until": now + timedelta(seconds=conf.lease_seconds),
        "updated_at": now,
    }
    if sending:
        changes.update(status=Status.SENDING, attempts=F("attempts") + 1)
    won = SmsMessage.objects.filter(*conditions, pk=pk, **match).update(**changes)
    return token if won else None


def take_lock(name: str, seconds: float, now: datetime | None = None) -> str | None:
    """Take the named :class:`~django_smsrest.models.OutboxLock` for ``seconds``: one
    conditional UPDATE, like a message claim. The token to release it with, or ``None``
    when another process holds it (its lease not yet expired)."""
    now = now or timezone.now()
    OutboxLock.objects.get_or_create(name=name)
    token = uuid.uuid4().hex
    won = OutboxLock.objects.filter(
        Q(held_until__isnull=True) | Q(held_until__lt=now), name=name
    ).update(token=token, held_until=now + timedelta(seconds=seconds))
    return token if won else None


def release_lock(name: str, token: str) -> None:
    """Give the lock back, if it is still ours."""
    OutboxLock.objects.filter(name=name, token=token).update(token="", held_until=None)
