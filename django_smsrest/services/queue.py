"""Working through the outbox: :func:`flush_queue` (send what is due, now, in this
process) and :func:`sweep` (the periodic job that keeps everything moving)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_smsrest import dispatch, ratelimit, throttle
from django_smsrest.conf import get_settings
from django_smsrest.models import SmsMessage, Status
from django_smsrest.outbox import (
    BatchFlush,
    due_q,
    lease_free_q,
    on_commit,
    release_lock,
    renew_lock,
    stopping,
    take_lock,
)
from django_smsrest.outbox.reconnect import once_more_after_reconnect
from django_smsrest.services.base import (
    in_user_atomic,
    logger,
    pages,
)
from django_smsrest.services.codes import CodesFirst, enqueue_due_codes, expire_due_codes
from django_smsrest.services.delivery import refresh_due_statuses
from django_smsrest.services.inbound import receive_sms
from django_smsrest.services.sending import _hint_retry, reconcile
from django_smsrest.services.upkeep import consent_sweep

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
    # The flush was asked to stop (``stop``, or a shutdown: ``outbox.stopping``).
    stopped: bool = False
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
    stopped: bool = False  # asked to stop (``stop``, or a shutdown: ``outbox.stopping``)
    paused_until: datetime | None = None  # account paused after a 429: nothing enqueued
    refreshed: int = 0  # status checks done
    errors: int = 0
    # Another sweep holds the lock: this one did nothing, or stopped when it found its lock
    # taken over (it had stalled past it).
    busy: bool = False
    received: int | None = None  # received SMS stored (None: SMSREST["RECEIVE"] is off)


# --- the queue ----------------------------------------------------------------------------


def flush_queue(
    *,
    limit: int | None = None,
    on_progress: Callable[[int, SmsMessage | None], None] | None = None,
    stop: threading.Event | None = None,
) -> FlushReport:
    """Send every due QUEUED message now, in this process, oldest first.

    One engine whatever ``SMSREST['CONCURRENCY']`` (default 4) says: the
    :class:`~django_smsrest.outbox.batch.BatchFlush` claims due messages a few at a time
    (one UPDATE; several processes may flush at once), keeps up to ``CONCURRENCY`` POSTs
    in flight from a pool of that many threads sharing the process's one login (``1``: one
    request in flight), and writes each result as it lands. ``on_progress(pk,
    message_or_None)`` is called as each message is settled (``None``: another worker had
    it). An unexpected exception is logged and counted and the flush goes on. Messages
    re-queued for a retry during the flush are not due yet and wait for the next one.

    The brake: after ``FLUSH_GIVE_WAY_AFTER`` messages in a row were re-queued (gateway
    unreachable or rate limiting) the flush stops early (``report.stopped_early``); the next
    flush or sweep carries on. It also stops as soon as the account is paused after a 429
    (``report.paused_until``; see :mod:`django_smsrest.throttle`).

    ``stop`` (a :class:`threading.Event`, e.g. set by a SIGTERM handler): once set, no
    new message is claimed nor POSTed; the requests in flight land and are recorded, the
    messages claimed but not POSTed go straight back to the queue (no attempt counted),
    and the report says ``stopped``. A shutdown of the process
    (:func:`django_smsrest.outbox.stopping.request_stop`, the loop worker's SIGTERM) does
    the same.

    Inside the caller's ``atomic()`` block nothing is sent until it commits (no POST may
    go out under an open transaction): the flush runs then, and an empty report is
    returned.
    """
    conf = get_settings()
    report = FlushReport()
    if in_user_atomic():
        on_commit(partial(flush_queue, limit=limit, on_progress=on_progress, stop=stop))
        return report

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

    flush = BatchFlush(
        conf,
        settled,
        limit=limit,
        give_way_after=FLUSH_GIVE_WAY_AFTER,
        stop=stop,
        # Login codes go before each batch of the bulk queue (services.codes).
        before_claim=CodesFirst(on_sent=partial(_count_code, report, on_progress)),
    )
    flush.run()
    # Asked to stop (the stop hook, a shutdown) is not the gateway's doing: not "early".
    report.stopped = flush.stopped == "asked"
    report.stopped_early = flush.stopped not in (None, "asked")
    report.paused_until = flush.paused_until
    return report


class SweepLockLost(Exception):
    """The sweep's lock was taken over (it expired under a sweep that stalled, and another
    sweep took it): this sweep stops at once instead of going on beside the other."""


def _count_code(
    report: FlushReport,
    on_progress: Callable[[int, SmsMessage | None], None] | None,
    pk: int,
    msg: SmsMessage | None,
) -> None:
    """A login code sent ahead of the queue by a flush (services.codes.send_due_codes)."""
    if msg is None:
        report.skipped += 1
    else:
        report.by_status[str(msg.status)] += 1
    if on_progress is not None:
        on_progress(pk, msg)


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
        """Renew the lock when due; :class:`SweepLockLost` when it is not ours any more."""
        if self.token and time.monotonic() - self._since > self.seconds / 2:
            if not renew_lock(self.NAME, self.token, self.seconds):
                self.token = None
                raise SweepLockLost
            self._since = time.monotonic()

    def release(self) -> None:
        if self.token:  # [worker] a sweep cut by a lost connection still frees the lock
            once_more_after_reconnect(release_lock, self.NAME, self.token)


def _clock(now: datetime | None) -> Callable[[], datetime]:
    """The sweep's clock: the time now, or, when the caller gave ``now`` (a test, a
    replay), that moment plus the time the sweep has been running."""
    if now is None:
        return timezone.now
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)


def sweep(
    *,
    now: datetime | None = None,
    limit: int | None = None,
    stop: threading.Event | None = None,
) -> SweepReport:
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

    ``stop``: the stop hook of :func:`flush_queue` (no new claim or POST once set); the
    sweep itself takes no new work once it is set (nor after a shutdown of the process:
    :mod:`django_smsrest.outbox.stopping`), and says ``report.stopped``.
    """
    lock = _SweepLock(get_settings().lease_seconds)
    if lock.token is None:
        logger.info("Sweep skipped: another sweep is running")
        return SweepReport(busy=True)
    report = SweepReport()
    try:
        _sweep(report, _clock(now), limit, lock.keep, stop)
    except SweepLockLost:
        # A sweep that stalled past its lock: another one runs now and does the rest.
        logger.warning("Sweep stopped: its lock expired and another sweep took it over")
        report.busy = True
    finally:
        lock.release()
    return report


def _sweep(
    report: SweepReport,
    clock: Callable[[], datetime],
    limit: int | None,
    keep: Callable[[], None],
    stop: threading.Event | None = None,
) -> None:
    """The steps of :func:`sweep`, in order, into ``report``. ``clock()`` is read for each
    step and each claim: late in a long sweep a claim's lease must start from the time it
    is taken, not from when the sweep began (it would be over already). It takes no new
    work once asked to stop (``stop``, or a shutdown of the process)."""

    def asked() -> bool:
        if (stop is not None and stop.is_set()) or stopping.stop_requested():
            report.stopped = True
        return report.stopped

    now = clock()
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
        if asked():
            return
        keep()
        try:
            msg = reconcile(pk, now=clock())
        except Exception:
            logger.exception("Could not reconcile SMS #%s", pk)
            report.errors += 1
            continue
        if msg is not None:
            report.reconciled[str(msg.status)] += 1
    now = clock()
    expire_due_codes(now)  # queued login codes past their expiry: never sent (codes.py)
    ratelimit.prune(now)
    report.paused_until = throttle.sending_paused_until(now)
    if asked():
        return
    if report.paused_until is None:
        if dispatch.runs_inline():
            flushed = flush_queue(limit=limit, on_progress=lambda *_: keep(), stop=stop)
            report.sent = flushed.by_status
            report.errors += flushed.errors
            report.stopped_early = flushed.stopped_early
            report.stopped = flushed.stopped
            report.paused_until = flushed.paused_until
        else:
            enqueue_due_codes(now)  # login codes' hints first, with their priority
            queued = SmsMessage.objects.filter(due_q(now), status=Status.QUEUED)
            for pk in pages(queued, limit):
                on_commit(partial(dispatch.enqueue_send, pk))
                report.enqueued += 1
    if asked():
        return
    report.refreshed = refresh_due_statuses(limit=limit, now=clock(), on_each=keep)
    keep()
    if get_settings().receive and not asked():
        try:
            report.received = receive_sms().stored
        except Exception:
            logger.exception("Could not poll the received SMS")
            report.errors += 1
    if not asked():
        report.errors += consent_sweep(clock(), keep)  # retention, blacklist sync


def pending_count() -> int:
    """How many messages are waiting to be sent (QUEUED, due or not)."""
    return SmsMessage.objects.filter(status=Status.QUEUED).count()
