"""Working through the outbox: :func:`flush_queue` (send what is due, now, in this
process) and :func:`sweep` (the periodic job that keeps everything moving)."""

from __future__ import annotations

import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_smsrest import dispatch, throttle
from django_smsrest.conf import SmsRestSettings, get_settings
from django_smsrest.models import SmsMessage, Status
from django_smsrest.outbox import (
    BatchFlush,
    due_q,
    lease_free_q,
    on_commit,
    release_lock,
    renew_lock,
    take_lock,
)
from django_smsrest.services.base import (
    id_pages,
    in_user_atomic,
    logger,
    pages,
)
from django_smsrest.services.delivery import refresh_due_statuses
from django_smsrest.services.inbound import receive_sms
from django_smsrest.services.sending import _hint_retry, reconcile, send_message
from django_smsrest.services.upkeep import consent_sweep

# Where a flusher jumps to after losing a claim; no cryptographic need.
_shuffle = random.Random()
#: A flush gives way after this many messages in a row came back for a retry: the gateway
#: is down or rate limiting the account, and going on would only burn every message's
#: attempts (and, when it is down, a connect timeout each).
FLUSH_GIVE_WAY_AFTER = 3


@dataclass
class FlushReport:
    """What :func:`flush_queue` did: final status of each attempted message, by status."""

    by_status: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # claimed by another worker first
    errors: int = 0  # an unexpected exception (logged)
    # The flush stopped early: the gateway sent several messages in a row back for a
    # retry (unreachable, or rate limiting), or the account is paused after a 429. The rest
    # of the queue waits for the next run.
    stopped_early: bool = False
    # Set when the flush stopped because the account is paused (throttle): until when.
    paused_until: datetime | None = None

    @property
    def attempted(self) -> int:
        return sum(self.by_status.values()) + self.skipped + self.errors


@dataclass
class SweepReport:
    """What :func:`sweep` did."""

    expired_leases: int = 0  # SENDING rows whose worker vanished -> UNKNOWN
    reconciled: Counter[str] = field(default_factory=Counter)  # UNKNOWN rows, by new status
    enqueued: int = 0  # due QUEUED rows re-enqueued as tasks
    # With no task worker (ImmediateBackend) the sweep sends the due queue itself, through
    # flush_queue: the outcomes by status, and whether it gave way (gateway unreachable).
    sent: Counter[str] = field(default_factory=Counter)
    stopped_early: bool = False
    paused_until: datetime | None = None  # account paused after a 429: nothing enqueued
    refreshed: int = 0  # status checks done
    errors: int = 0
    busy: bool = False  # another sweep holds the lock: this one did nothing
    received: int | None = None  # received SMS stored (None: SMSREST["RECEIVE"] is off)


# --- the queue ----------------------------------------------------------------------------


def flush_queue(
    *,
    limit: int | None = None,
    on_progress: Callable[[int, SmsMessage | None], None] | None = None,
) -> FlushReport:
    """Send every due QUEUED message now, in this process, oldest first.

    Walks the queue by primary key ``CHUNK_SIZE`` ids at a time, so memory stays flat
    whatever its size; each message is claimed like in :func:`send_message`, so several
    processes may flush at once. ``on_progress(pk, message_or_None)`` is called after each
    message (``None``: another worker had it). An unexpected exception is logged and counted
    and the flush goes on. Messages re-queued for a retry during the flush are not due yet
    and wait for the next one. After ``FLUSH_GIVE_WAY_AFTER`` messages in a row were
    re-queued (gateway unreachable or rate limiting) the flush stops early
    (``report.stopped_early``); the next flush or sweep carries on. It also stops, before
    the next message, as soon as the account is paused after a 429
    (``report.paused_until``; see :mod:`django_smsrest.throttle`).

    ``SMSREST['CONCURRENCY']`` (default 4) is the number of POSTs kept in flight: above 1
    the flush claims due messages a batch at a time (one UPDATE), POSTs them from a pool of
    that many threads sharing the process's one login, and writes their results a batch at
    a time (:class:`~django_smsrest.outbox.batch.BatchFlush`); ``on_progress`` is then
    called as each batch is written. ``1`` sends one message at a time, as described
    above.
    """
    conf = get_settings()
    if conf.concurrency > 1 and not in_user_atomic():
        # (Inside the caller's transaction the sequential path defers every send to the
        # commit, as send_message does: no POST may go out under an open transaction.)
        return _flush_concurrently(conf, limit, on_progress)
    now = timezone.now()
    report = FlushReport()
    due = SmsMessage.objects.filter(due_q(now), status=Status.QUEUED)
    retried_in_a_row = 0
    for page in id_pages(due, limit):
        pending = deque(page)
        while pending:
            pk = pending.popleft()
            paused_until = throttle.sending_paused_until(conf=conf)
            if paused_until is not None:
                logger.warning("Flush stopped: sending paused until %s (HTTP 429)", paused_until)
                report.stopped_early = True
                report.paused_until = paused_until
                return report
            msg: SmsMessage | None = None
            try:
                msg = send_message(pk)
            except Exception:
                logger.exception("Could not send SMS #%s", pk)
                report.errors += 1
            else:
                if msg is None:
                    report.skipped += 1
                    pending = _after_lost_claim(due, pending)
                else:
                    report.by_status[str(msg.status)] += 1
                    retried_in_a_row = retried_in_a_row + 1 if msg.status == Status.QUEUED else 0
            if on_progress is not None:
                on_progress(pk, msg)
            if retried_in_a_row >= FLUSH_GIVE_WAY_AFTER:
                logger.warning(
                    "Flush stopped: %d messages in a row must be retried later (%s)",
                    retried_in_a_row,
                    msg.last_error if msg is not None else "",
                )
                report.stopped_early = True
                return report
    return report


def _flush_concurrently(
    conf: SmsRestSettings,
    limit: int | None,
    on_progress: Callable[[int, SmsMessage | None], None] | None,
) -> FlushReport:
    """:func:`flush_queue` with ``CONCURRENCY`` > 1: :class:`~django_smsrest.outbox.batch.
    BatchFlush` claims due messages a batch at a time, keeps that many POSTs in flight
    (one thread each, one shared login) and writes the results a batch at a time. Same
    report, same brakes (a 429 stops it, ``FLUSH_GIVE_WAY_AFTER`` retries in a row stop
    it), and each settled message is reported to ``on_progress`` as it is written."""
    report = FlushReport()

    def settled(pk: int, msg: SmsMessage | None, error: bool) -> None:
        if error:
            report.errors += 1
        elif msg is None:
            report.skipped += 1
        else:
            report.by_status[str(msg.status)] += 1
        if msg is not None:
            _hint_retry(msg)
        if on_progress is not None:
            on_progress(pk, msg)

    flush = BatchFlush(conf, settled, limit=limit, give_way_after=FLUSH_GIVE_WAY_AFTER)
    flush.run()
    report.stopped_early = flush.stopped is not None
    report.paused_until = flush.paused_until
    return report


def _after_lost_claim(due: QuerySet[SmsMessage], pending: deque[int]) -> deque[int]:
    """Another flusher is walking the same page. Drop what the others already took (one
    SELECT, instead of one failed claim per message) and go on from a random point of
    what is left, so that two flushers stop treading on each other's heels."""
    if not pending:
        return pending
    still = set(due.filter(pk__in=list(pending)).values_list("pk", flat=True))
    left = [pk for pk in pending if pk in still]
    if not left:
        return deque()
    start = _shuffle.randrange(len(left))
    return deque(left[start:] + left[:start])


class _SweepLock:
    """The sweep's hold on the ``"sweep"`` :class:`~django_smsrest.models.OutboxLock`:
    taken for ``LEASE_SECONDS`` and renewed as the sweep goes (:meth:`keep`, once half of
    it has passed), so a sweep that was killed blocks the next ones for one lease, not
    for as long as the longest sweep might take."""

    NAME = "sweep"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.token = take_lock(self.NAME, seconds)
        self._since = time.monotonic()

    def keep(self) -> None:
        if self.token and time.monotonic() - self._since > self.seconds / 2:
            renew_lock(self.NAME, self.token, self.seconds)
            self._since = time.monotonic()

    def release(self) -> None:
        if self.token:
            release_lock(self.NAME, self.token)


def sweep(*, now: datetime | None = None, limit: int | None = None) -> SweepReport:
    """Keep the outbox moving whatever happened to workers and task hints. Run it
    periodically (``sweep_task``, ``manage.py send_sms --sweep`` from cron, or
    ``send_sms --loop``), e.g. every minute. Only one sweep runs at a time (a lock row in
    the database); one started while another runs returns at once (``report.busy``).

    1. SENDING rows whose lease expired (the worker died or hung) -> UNKNOWN, never
       straight back to QUEUED: their POST may have gone out.
    2. UNKNOWN rows that are due -> :func:`reconcile` (``GET sms/{order_id}``).
    3. Due QUEUED rows: with a task worker, the send task is enqueued again (on commit; a
       duplicate of a hint still in a broker is harmless, the claim lets only one
       through). With no worker (the ``ImmediateBackend``), they are sent here by
       :func:`flush_queue`, which gives way when the gateway is unreachable
       (``report.stopped_early``). Skipped while the account is paused after a 429
       (``report.paused_until``).
    4. Due status checks -> :func:`refresh_due_statuses`.
    5. With ``SMSREST["RECEIVE"]``: received SMS -> :func:`~.inbound.receive_sms`.
    6. Retention and the blacklist sync, when configured (:mod:`.upkeep`).
    """
    lock = _SweepLock(get_settings().lease_seconds)
    if lock.token is None:
        logger.info("Sweep skipped: another sweep is running")
        return SweepReport(busy=True)
    try:
        return _sweep(now or timezone.now(), limit, lock.keep)
    finally:
        lock.release()


def _sweep(now: datetime, limit: int | None, keep: Callable[[], None]) -> SweepReport:
    report = SweepReport()
    report.expired_leases = SmsMessage.objects.filter(
        status=Status.SENDING, lease_until__lt=now
    ).update(
        status=Status.UNKNOWN,
        claim_token="",
        lease_until=None,
        next_attempt_at=None,
        last_error=str(
            _("The worker sending this message stopped answering; checking with the gateway.")
        ),
        updated_at=now,
    )
    unknown = SmsMessage.objects.filter(due_q(now), lease_free_q(now), status=Status.UNKNOWN)
    for pk in pages(unknown, limit):
        keep()
        try:
            msg = reconcile(pk, now=now)
        except Exception:
            logger.exception("Could not reconcile SMS #%s", pk)
            report.errors += 1
            continue
        if msg is not None:
            report.reconciled[str(msg.status)] += 1
    report.paused_until = throttle.sending_paused_until(now)
    if report.paused_until is None:
        if dispatch.runs_inline():
            flushed = flush_queue(limit=limit, on_progress=lambda *_: keep())
            report.sent = flushed.by_status
            report.errors += flushed.errors
            report.stopped_early = flushed.stopped_early
            report.paused_until = flushed.paused_until
        else:
            queued = SmsMessage.objects.filter(due_q(now), status=Status.QUEUED)
            for pk in pages(queued, limit):
                on_commit(partial(dispatch.enqueue_send, pk))
                report.enqueued += 1
    report.refreshed = refresh_due_statuses(limit=limit, now=now, on_each=keep)
    keep()
    if get_settings().receive:
        try:
            report.received = receive_sms().stored
        except Exception:
            logger.exception("Could not poll the received SMS")
            report.errors += 1
    report.errors += consent_sweep(now, keep)  # retention, blacklist sync (issue 23)
    return report


def pending_count() -> int:
    """How many messages are waiting to be sent (QUEUED, due or not)."""
    return SmsMessage.objects.filter(status=Status.QUEUED).count()
