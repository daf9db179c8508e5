"""Claims and leases: the conditional UPDATEs that let one worker at a time work on a
message (or hold a named lock), and the conditions that say what is due and free."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.models import F, Q, QuerySet, Subquery
from django.utils import timezone

from django_smsrest.conf import SmsRestSettings
from django_smsrest.models import (
    OutboxLock,
    SmsMessage,
    Status,
)


def due_q(now: datetime) -> Q:
    """Due: no next attempt planned, or its time has come."""
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
    lease: timedelta | None = None,
    **match: Any,
) -> str | None:
    """One conditional UPDATE taking a lease on the row; the new claim token if this call
    won, ``None`` if the row did not match (another worker won, or it is not in a state
    this operation applies to). ``sending`` also moves it to SENDING and counts an attempt.
    ``lease``: how long (default ``LEASE_SECONDS``; a claim to send takes
    :func:`~django_smsrest.outbox.leases.send_lease`).
    """
    token = uuid.uuid4().hex
    changes: dict[str, Any] = {
        "claim_token": token,
        "lease_until": now + (lease or timedelta(seconds=conf.lease_seconds)),
        "updated_at": now,
    }
    if sending:
        changes.update(status=Status.SENDING, attempts=F("attempts") + 1)
    won = SmsMessage.objects.filter(*conditions, pk=pk, **match).update(**changes)
    return token if won else None


def claim_order(due: QuerySet[SmsMessage]) -> QuerySet[SmsMessage]:
    """The order in which due messages are claimed: the one ORDER BY of the engine
    (:func:`claim_batch`). Oldest first, by primary key; the flush walks the queue with a
    primary-key cursor (``after``), so an order by anything else must keep that cursor
    in step."""
    return due.order_by("pk")


def claim_batch(
    token: str,
    now: datetime,
    conf: SmsRestSettings,
    *,
    after: int,
    size: int,
    lease: timedelta | None = None,
) -> int:
    """Claim up to ``size`` due QUEUED messages with a primary key above ``after``, oldest
    first, in ONE statement, all with ``token``: each moves to SENDING, counts an attempt
    and gets a lease, like :func:`claim` with ``sending=True``. Returns how many rows were
    claimed (read them back by ``claim_token=token``).

    PostgreSQL: ``UPDATE ... WHERE id = ANY(ARRAY(SELECT id ... ORDER BY id LIMIT n FOR
    UPDATE SKIP LOCKED))`` (see :func:`_claim_batch_postgresql` for why an ARRAY and not
    ``IN``), in a transaction of its own (one statement): concurrent flushers skip each
    other's rows instead of waiting on them. SQLite has one writer at a time, so an UPDATE
    over a subquery (without the lock clause, which it has not) is already atomic.
    Elsewhere the pks are read first and the UPDATE repeats the conditions, so a row
    another worker claimed in between is simply not matched. Every statement goes to
    :func:`outbox_db` (the alias a database router gives the app's tables).
    """
    due = claim_order(SmsMessage.objects.filter(due_q(now), status=Status.QUEUED, pk__gt=after))
    changes: dict[str, Any] = {
        "claim_token": token,
        "lease_until": now + (lease or timedelta(seconds=conf.lease_seconds)),
        "updated_at": now,
        "status": str(Status.SENDING),
        "attempts": F("attempts") + 1,  # raw SQL on PostgreSQL: see below
    }
    db = outbox_db()
    vendor = connections[db].vendor
    still_due = SmsMessage.objects.filter(due_q(now), status=Status.QUEUED)
    if vendor == "postgresql":
        return _claim_batch_postgresql(due, size, db, changes)
    if vendor == "sqlite":
        return still_due.filter(pk__in=Subquery(due.values("pk")[:size])).update(**changes)
    pks = list(due.values_list("pk", flat=True)[:size])
    return still_due.filter(pk__in=pks).update(**changes) if pks else 0


def _claim_batch_postgresql(
    due: QuerySet[SmsMessage], size: int, db: str, changes: dict[str, Any]
) -> int:
    """``UPDATE ... WHERE id = ANY(ARRAY(SELECT id ... LIMIT n FOR UPDATE SKIP LOCKED))``.

    ``ARRAY(subquery)`` on purpose, not ``IN (subquery)``: PostgreSQL may rescan an ``IN``
    subquery while the UPDATE runs, and a rescan skips the rows this very statement has
    just locked and updated, so it claims more than ``n`` rows (seen in
    tests/test_batch_flush.py). An ARRAY is computed once, before the update."""
    connection = connections[db]
    quote = connection.ops.quote_name
    table = quote(SmsMessage._meta.db_table)
    with transaction.atomic(using=db):
        # Compiled for ``db``: ``query.sql_with_params()`` would compile for the default
        # alias, which is outside this transaction when a router puts the table elsewhere.
        picked_query = due.select_for_update(skip_locked=True).values("pk")[:size].query
        picked, params = picked_query.get_compiler(using=db).as_sql()
        sets = ", ".join(f"{quote(name)} = %s" for name in changes if name != "attempts")
        values = [value for name, value in changes.items() if name != "attempts"]
        attempts = quote("attempts")
        pk = quote(str(SmsMessage._meta.pk.column))
        # Names quoted by the backend, every value bound: nothing user-given in the text.
        sql = f"UPDATE {table} SET {sets}, {attempts} = {attempts} + 1 WHERE {pk} = ANY(ARRAY({picked}))"  # noqa: E501, S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [*values, *params])
            return int(cursor.rowcount)


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


def renew_lock(name: str, token: str, seconds: float) -> bool:
    """Hold the lock ``seconds`` more, if it is still ours (one guarded UPDATE)."""
    held_until = timezone.now() + timedelta(seconds=seconds)
    return bool(OutboxLock.objects.filter(name=name, token=token).update(held_until=held_until))


def release_lock(name: str, token: str) -> None:
    """Give the lock back, if it is still ours."""
    OutboxLock.objects.filter(name=name, token=token).update(token="", held_until=None)
