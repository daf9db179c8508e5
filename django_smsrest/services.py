"""The only code that changes an SMS's state or talks to a backend.

Entry points (admin, commands, views, tasks, signal receivers) call these functions and
nothing else. The flow, and the rules it keeps:

1. **The row is the outbox.** :func:`send_sms` validates, then writes the ``SmsMessage``,
   its ``SmsOrder`` rows (one per ``POST sms``, ``MAX_RECIPIENTS_PER_ORDER`` recipients
   each, every one with its own ``order_id``) and its ``SmsRecipient`` rows in one
   transaction. The ``order_id``\\ s are committed before any POST: they are the
   idempotency and reconciliation keys.
2. **Claim, then talk, then record.** :func:`send_message` claims a row with one
   conditional ``UPDATE`` (works the same on SQLite and PostgreSQL; the loser of a race
   updates nothing and returns ``None``), commits, calls the backend with no transaction
   open, and records each answer right after it with an ``UPDATE`` guarded by the claim
   token, so a worker whose lease was taken over cannot overwrite newer state.
3. **Failures are classified.** Surely-not-sent and retryable: back to ``QUEUED`` with
   capped exponential backoff and full jitter. Surely-not-sent and permanent (400, bad
   credentials): ``FAILED`` at once with the gateway's reason. Maybe-sent (timeout, 5xx,
   dropped connection, anything unexpected): ``UNKNOWN``, then ``GET sms/{order_id}``
   before anything is sent again.
4. **States only move forward.** Every status write is conditional on the state it leaves;
   delivery states only climb :data:`~django_smsrest.lifecycle.DELIVERY_RANK`; a final message
   is never reopened. A resend is a new, linked row (:func:`resend`).

The statuses and every move between them are in :mod:`django_smsrest.lifecycle`.

Validation lives in :mod:`django_smsrest.validation` and the claim/lease/backoff machinery
in :mod:`django_smsrest.outbox`; :func:`validate_sms`, :class:`ValidatedSms` and
:func:`retry_delay` are re-exported here.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_smsrest import dispatch, lifecycle, signals, throttle
from django_smsrest.backends import get_backend
from django_smsrest.conf import SmsRestSettings, get_settings
from django_smsrest.exceptions import GatewayError, OrderNotFound
from django_smsrest.models import OrderStatus, SmsMessage, SmsOrder, SmsRecipient, Status
from django_smsrest.outbox import (
    ERROR_MAX,
    Job,
    LostClaim,
    claim,
    describe_error,
    digits,
    due_q,
    lease_free_q,
    on_commit,
    outbox_db,
    release_lock,
    retry_delay,
    send_robust,
    take_lock,
)
from django_smsrest.results import AccountStatus, DeliveryState
from django_smsrest.validation import ValidatedSms, validate_sms

__all__ = [
    "FlushReport",
    "SmsStateError",
    "SweepReport",
    "ValidatedSms",
    "cancel",
    "flush_queue",
    "get_credits",
    "pending_count",
    "queue_sms",
    "reconcile",
    "refresh_due_statuses",
    "refresh_status",
    "resend",
    "retry_delay",
    "send_message",
    "send_sms",
    "sweep",
    "validate_sms",
]

logger = logging.getLogger("django_smsrest")

#: Status polls back off from ``STATUS_POLL_BASE_SECONDS`` by doubling, up to this.
STATUS_POLL_MAX_INTERVAL = 3600.0
# Where a flusher jumps to after losing a claim; no cryptographic need.
_shuffle = random.Random()
#: A flush gives way after this many messages in a row came back for a retry: the gateway
#: is down or rate limiting the account, and going on would only burn every message's
#: attempts (and, when it is down, a connect timeout each).
FLUSH_GIVE_WAY_AFTER = 3
#: Rows fetched per query when walking the queue (memory stays flat on any queue size).
CHUNK_SIZE = 500
#: Recipient rows per INSERT / UPDATE statement.
BATCH_SIZE = 500


class SmsStateError(ValidationError):
    """The operation does not apply to the message in its current state (cancel a sent
    message, resend one still in flight...). ``str()``/``messages`` explain why, for a
    person; it is a ``ValidationError`` so forms and admin actions can show it as is."""


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


# --- helpers ------------------------------------------------------------------------------


def _as_message(message: SmsMessage | int) -> SmsMessage:
    if isinstance(message, SmsMessage):
        return message
    return SmsMessage.objects.get(pk=message)


def _in_user_atomic() -> bool:
    """True inside an ``atomic()`` block of the caller; the blocks a test case wraps around
    each test do not count (the same rule Django uses for ``durable=True``)."""
    blocks = connections[outbox_db()].atomic_blocks
    return any(not getattr(block, "_from_testcase", False) for block in blocks)


def _id_pages(queryset: QuerySet[SmsMessage], limit: int | None) -> Iterator[list[int]]:
    """Primary keys of ``queryset`` in ascending order, ``CHUNK_SIZE`` per page, by keyset
    pagination (at most ``limit`` in all). Unlike ``.iterator()`` this holds no cursor open
    while the caller writes (SQLite gives no isolation between a cursor and writes on the
    same connection; PostgreSQL would keep a server-side cursor open across HTTP calls)."""
    last = 0
    given = 0
    while True:
        size = CHUNK_SIZE if limit is None else min(CHUNK_SIZE, limit - given)
        if size <= 0:
            return
        page = list(
            queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size]
        )
        if not page:
            return
        given += len(page)
        yield page
        last = page[-1]


def _pages(queryset: QuerySet[SmsMessage], limit: int | None) -> Iterator[int]:
    """The primary keys of :func:`_id_pages`, one at a time."""
    for page in _id_pages(queryset, limit):
        yield from page


# --- creating messages --------------------------------------------------------------------


def _create(sms: ValidatedSms, conf: SmsRestSettings, resend_of: SmsMessage | None) -> SmsMessage:
    """Insert the message, its orders and its recipients (caller holds the transaction)."""
    msg = SmsMessage.objects.create(
        message=sms.message,
        message_type=sms.message_type,
        sender=sms.sender,
        scheduled_delivery_time=sms.scheduled_delivery_time,
        encoding=sms.encoding,
        segments=sms.segments,
        recipient_count=len(sms.recipients),
        status=Status.QUEUED,
        resend_of=resend_of,
    )
    size = conf.max_recipients_per_order
    chunks = [sms.recipients[i : i + size] for i in range(0, len(sms.recipients), size)]
    # The first order carries the message's own order_id, so the message's id is the one
    # the gateway knows for single-order messages (the common case).
    orders = [
        SmsOrder(message=msg, index=i, **({"order_id": msg.order_id} if i == 0 else {}))
        for i in range(len(chunks))
    ]
    SmsOrder.objects.bulk_create(orders)
    if any(order.pk is None for order in orders):  # database without RETURNING
        orders = list(SmsOrder.objects.filter(message=msg).order_by("index"))
    SmsRecipient.objects.bulk_create(
        (
            SmsRecipient(message=msg, order=order, phone_number=number)
            for order, chunk in zip(orders, chunks, strict=True)
            for number in chunk
        ),
        batch_size=BATCH_SIZE,
    )
    return msg


def send_sms(
    message: str,
    recipients: str | Iterable[str],
    *,
    sender: str | None = None,
    message_type: str | None = None,
    scheduled_delivery_time: datetime | None = None,
    defer: bool = False,
    resend_of: SmsMessage | None = None,
) -> SmsMessage:
    """Validate an SMS, store it in the outbox and send it (or hand it to a worker).

    Raises ``ValidationError`` (see :func:`validate_sms`) before writing anything.

    ``defer=False``: once the rows are committed, send now in this process and return the
    row as the gateway left it (``SENT``, ``SCHEDULED``, ``FAILED``, or ``QUEUED`` with a
    retry planned). Called inside the caller's own ``transaction.atomic()`` block, the send
    cannot happen before that block commits: it is registered with ``on_commit`` and the
    still-``QUEUED`` row is returned.

    ``defer=True`` (:func:`queue_sms`): enqueue the send task when the transaction commits
    and return the ``QUEUED`` row. With the ``ImmediateBackend`` the task runs at commit,
    so call ``refresh_from_db()`` to see its outcome.
    """
    conf = get_settings()
    sms = validate_sms(
        message,
        recipients,
        sender=sender,
        message_type=message_type,
        scheduled_delivery_time=scheduled_delivery_time,
        conf=conf,
    )
    inline = not defer and not _in_user_atomic()
    with transaction.atomic(using=outbox_db()):
        msg = _create(sms, conf, resend_of)
        if defer:
            on_commit(partial(dispatch.enqueue_send, msg.pk))
        elif not inline:
            on_commit(partial(send_message, msg.pk))
    if inline:
        send_message(msg.pk)
        msg.refresh_from_db()
    return msg


def queue_sms(
    message: str,
    recipients: str | Iterable[str],
    *,
    sender: str | None = None,
    message_type: str | None = None,
    scheduled_delivery_time: datetime | None = None,
    resend_of: SmsMessage | None = None,
) -> SmsMessage:
    """``send_sms(..., defer=True)``: store the SMS and let a worker send it."""
    return send_sms(
        message,
        recipients,
        sender=sender,
        message_type=message_type,
        scheduled_delivery_time=scheduled_delivery_time,
        defer=True,
        resend_of=resend_of,
    )


def resend(message: SmsMessage | int, *, defer: bool = True) -> SmsMessage:
    """Send ``message`` again as a NEW message linked by ``resend_of``, with fresh order ids
    (the old orders are never posted again). Refused while the original is still queued,
    being sent, or scheduled (cancel it first): two live copies would both go out.

    A schedule still in the future is kept; a past one is dropped (send now).
    """
    original = _as_message(message)
    if original.status not in lifecycle.RESENDABLE:
        raise SmsStateError(
            _(
                "SMS #%(pk)s is still %(status)s; it cannot be resent until it has been "
                "sent, has failed or has been cancelled."
            ),
            code="resend_in_flight",
            params={"pk": original.pk, "status": original.get_status_display()},
        )
    when = original.scheduled_delivery_time
    if when is not None and when <= timezone.now():
        when = None
    numbers = list(original.recipients.order_by("id").values_list("phone_number", flat=True))
    return send_sms(
        original.message,
        numbers,
        sender=original.sender,
        message_type=original.message_type,
        scheduled_delivery_time=when,
        defer=defer,
        resend_of=original,
    )


# --- sending ------------------------------------------------------------------------------


def send_message(pk: int, *, force: bool = False) -> SmsMessage | None:
    """Send the queued message ``pk`` now: the body of the send task. Safe to call twice.

    Claims the row (QUEUED and due -> SENDING) with one conditional UPDATE; if another
    worker got there first, or the message is not queued or not due, does nothing and
    returns ``None``. Otherwise returns the message as the gateway left it. Called inside
    the caller's ``atomic()`` block, it sends when that block commits and returns ``None``.

    ``force=True`` ignores ``next_attempt_at`` (an explicit "send now" by a person, e.g.
    from the admin); the claim still lets only one worker through.

    While the account is paused after a 429 (:mod:`django_smsrest.throttle`) nothing is
    claimed or posted: a QUEUED message's ``next_attempt_at`` moves to the end of the pause
    (one conditional UPDATE) and ``None`` is returned. ``force=True`` sends anyway.
    """
    if _in_user_atomic():
        # No transaction may stay open across the gateway call: rolled back after the POST,
        # it would forget an order the gateway has (e.g. an admin action under
        # ATOMIC_REQUESTS). Send when the caller's transaction commits instead.
        on_commit(partial(send_message, pk, force=force))
        return None
    conf = get_settings()
    now = timezone.now()
    if not force:
        paused_until = throttle.sending_paused_until(now, conf=conf)
        if paused_until is not None:
            _defer(pk, paused_until, now)
            return None
    conditions = () if force else (due_q(now),)
    token = claim(pk, now, conf, *conditions, sending=True, status=Status.QUEUED)
    if token is None:
        return None
    job = Job.load(pk, token, conf)
    try:
        msg = job.run()
    except LostClaim:
        logger.warning("SMS #%s: lease lost while sending; another worker took over", pk)
        job.msg.refresh_from_db()
        return job.msg
    except Exception:
        _hint_retry(job.msg)  # a failing pre_send receiver re-queued it, then raised
        raise
    return _hint_retry(msg)


def _hint_retry(msg: SmsMessage) -> SmsMessage:
    """A message put back in the queue for a retry gets a task hint for its retry time,
    for task backends that can run a task later; the sweeper covers the others."""
    if msg.status == Status.QUEUED and msg.next_attempt_at is not None:
        on_commit(partial(dispatch.enqueue_send, msg.pk, run_after=msg.next_attempt_at))
    return msg


def _defer(pk: int, until: datetime, now: datetime) -> None:
    """Move a QUEUED message's next attempt to ``until`` (never earlier than planned), and
    leave a task hint for then; the sweeper re-enqueues it anyway once the pause is over."""
    moved = SmsMessage.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=until),
        pk=pk,
        status=Status.QUEUED,
    ).update(next_attempt_at=until, updated_at=now)
    if moved:
        on_commit(partial(dispatch.enqueue_send, pk, run_after=until))


def reconcile(pk: int, *, now: datetime | None = None, force: bool = False) -> SmsMessage | None:
    """Settle an UNKNOWN message with ``GET sms/{order_id}`` for each order not yet
    accepted: found -> accepted (no second POST); all found -> SENT/SCHEDULED; some 404 ->
    QUEUED with backoff (they were never sent); a GET failing -> stays UNKNOWN.

    Returns ``None`` when the message is not UNKNOWN, not due (unless ``force``: an
    explicit request by a person), or being worked on by someone else.
    """
    conf = get_settings()
    now = now or timezone.now()
    conditions = (lease_free_q(now),) if force else (due_q(now), lease_free_q(now))
    token = claim(pk, now, conf, *conditions, status__in=[Status.UNKNOWN])
    if token is None:
        return None
    job = Job.load(pk, token, conf)
    msg = job.msg
    try:
        missing: OrderNotFound | None = None
        for order, _numbers in job.pending_orders():
            try:
                result = job.lookup(order)
            except OrderNotFound as exc:
                missing = exc
                continue
            except Exception as exc:
                if not isinstance(exc, GatewayError):
                    logger.exception("Unexpected error reconciling SMS #%s", pk)
                return job.stay_unknown(exc)
            job.accept(order, result, last=False)
        if missing is not None:
            return _hint_retry(job.retry(missing))
        return job.succeed()
    except LostClaim:
        msg.refresh_from_db()
        return msg


# --- after sending ------------------------------------------------------------------------


def refresh_status(message: SmsMessage | int) -> SmsMessage:
    """Ask the gateway for the delivery state of every accepted order and record it.

    Recipient states only move forward
    (:func:`~django_smsrest.lifecycle.delivery_moves_forward`). The message becomes
    DELIVERED / PARTIALLY_DELIVERED / UNDELIVERED when every recipient is final (or stays
    SENT, finished, for types without delivery reports); SCHEDULED becomes SENT once the
    gateway reports it past SCHEDULED. The next check is planned with backoff, and checks
    stop after ``STATUS_POLL_MAX_AGE_HOURS``. Fires ``delivery_status_changed`` when
    something changed.

    A message that is not SENT/SCHEDULED, already finished, or being refreshed by another
    worker is returned unchanged. A gateway failure is recorded and re-raised.
    """
    conf = get_settings()
    pk = message.pk if isinstance(message, SmsMessage) else message
    now = timezone.now()
    token = claim(
        pk,
        now,
        conf,
        lease_free_q(now),
        status__in=list(lifecycle.POLLABLE),
        finished_at__isnull=True,
    )
    msg = message if isinstance(message, SmsMessage) else SmsMessage(pk=pk)
    msg.refresh_from_db()  # raises DoesNotExist for an unknown pk
    if token is None:
        return msg
    job = Job(msg, token, conf)
    previous = msg.status
    mtype = conf.message_types.get(msg.message_type)
    delivery_report = mtype.delivery_report if mtype is not None else True
    changed: list[SmsRecipient] = []
    notes: list[str] = []
    failure: BaseException | None = None
    for order in SmsOrder.objects.filter(message_id=msg.pk, status=OrderStatus.ACCEPTED):
        try:
            status = job.backend.get_order(order.order_id)
        except OrderNotFound:
            notes.append(
                str(_("The gateway no longer knows order %(order)s.")) % {"order": order.order_id}
            )
            continue
        except Exception as exc:
            failure = exc
            break
        reported = {digits(r.destination): r for r in status.recipients}
        rows = list(
            SmsRecipient.objects.filter(order_id=order.pk).only(
                "id", "phone_number", "state", "delivery_date"
            )
        )
        for row in rows:
            new = reported.get(digits(row.phone_number))
            if new is None:
                continue
            old = DeliveryState.parse(row.state) if row.state else None
            if lifecycle.delivery_moves_forward(
                old,
                new.state,
                delivery_report=delivery_report,
                dated=bool(new.delivery_date and not row.delivery_date),
            ):
                row.state = new.state.value
                row.delivery_date = new.delivery_date or row.delivery_date
                row.updated_at = now
                changed.append(row)
    if changed:
        SmsRecipient.objects.bulk_update(
            changed, ["state", "delivery_date", "updated_at"], batch_size=BATCH_SIZE
        )
    counts = dict(
        SmsRecipient.objects.filter(message_id=msg.pk)
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    new_status, finished = lifecycle.summarize(counts, msg.recipient_count, delivery_report)
    # We hold the claim, so the in-memory counter is current (saves a reload).
    fields: dict[str, Any] = {"status_checks": msg.status_checks + 1}
    if new_status is not None and new_status != msg.status:
        fields["status"] = new_status
    if failure is not None:
        notes.append(
            str(_("Could not check the delivery status: %(error)s"))
            % {"error": describe_error(failure, conf)}
        )
    if finished:
        fields.update(finished_at=now, next_status_check_at=None)
    else:
        # The age counts from when the gateway was due to send: acceptance, or the
        # scheduled time when that is later.
        start = msg.sent_at or now
        if msg.scheduled_delivery_time and msg.scheduled_delivery_time > start:
            start = msg.scheduled_delivery_time
        next_check: datetime | None  # None past the maximum age: stop polling
        if (
            msg.status == Status.SCHEDULED
            and msg.scheduled_delivery_time
            and (msg.scheduled_delivery_time > now)
        ):
            next_check = msg.scheduled_delivery_time + timedelta(
                seconds=conf.status_poll_base_seconds
            )
        else:
            delay = min(
                conf.status_poll_base_seconds * 2 ** (msg.status_checks + 1),
                STATUS_POLL_MAX_INTERVAL,
            )
            next_check = now + timedelta(seconds=delay)
        if next_check - start > timedelta(hours=conf.status_poll_max_age_hours):
            next_check = None
            notes.append(
                str(
                    _(
                        "Stopped checking the delivery status after %(hours)s hours; "
                        "%(n)d recipient(s) never reported a final state."
                    )
                )
                % {
                    "hours": f"{conf.status_poll_max_age_hours:g}",
                    "n": lifecycle.open_count(counts, msg.recipient_count, delivery_report),
                }
            )
        fields["next_status_check_at"] = next_check
    if notes:
        fields["last_error"] = " ".join(notes)[:ERROR_MAX]
    try:
        job.release(fields.pop("status", msg.status), **fields)
    except LostClaim:
        msg.refresh_from_db()
        return msg
    if changed or msg.status != previous:
        send_robust(
            signals.delivery_status_changed,
            message=msg,
            previous_status=previous,
            recipients=changed,
        )
    if failure is not None:
        raise failure
    return msg


def refresh_due_statuses(*, limit: int | None = None, now: datetime | None = None) -> int:
    """Refresh every SENT/SCHEDULED message whose status check is due; return how many
    were checked. Failures are logged and the loop goes on (each is retried later)."""
    now = now or timezone.now()
    due = SmsMessage.objects.filter(
        status__in=list(lifecycle.POLLABLE),
        finished_at__isnull=True,
        next_status_check_at__lte=now,
    )
    done = 0
    for pk in _pages(due, limit):
        try:
            refresh_status(pk)
        except SmsMessage.DoesNotExist:
            continue
        except Exception:
            logger.exception("Could not refresh the delivery status of SMS #%s", pk)
        done += 1
    return done


# --- cancelling, credits ------------------------------------------------------------------


def cancel(message: SmsMessage | int, *, reason: str = "") -> SmsMessage:
    """Cancel a message that has not gone out.

    * QUEUED (not yet claimed by a worker): cancelled locally, nothing is sent.
    * SCHEDULED: ``DELETE sms/{order_id}`` for every accepted order, then CANCELLED. If the
      gateway no longer has an order scheduled (it started sending), raises
      :class:`SmsStateError` and plans a status check; orders already cancelled stay so.
    * Anything else: raises :class:`SmsStateError` saying why.

    Gateway failures other than "not scheduled" propagate (``GatewayError``); the message
    is then left as it was.
    """
    conf = get_settings()
    msg = _as_message(message)
    now = timezone.now()
    text = reason or str(_("Cancelled."))
    if msg.status == Status.QUEUED:
        with transaction.atomic(using=outbox_db()):
            done = SmsMessage.objects.filter(pk=msg.pk, status=Status.QUEUED).update(
                status=Status.CANCELLED,
                claim_token="",
                lease_until=None,
                next_attempt_at=None,
                last_error=text[:ERROR_MAX],
                finished_at=now,
                updated_at=now,
            )
            if done:
                SmsOrder.objects.filter(message_id=msg.pk, status=OrderStatus.PENDING).update(
                    status=OrderStatus.CANCELLED
                )
        msg.refresh_from_db()
        if done:
            return msg
    if msg.status == Status.SCHEDULED:
        token = claim(msg.pk, now, conf, lease_free_q(now), status__in=[Status.SCHEDULED])
        if token is None:
            msg.refresh_from_db()
            raise _state_error(msg)
        job = Job(msg, token, conf)
        too_late: list[str] = []
        try:
            for order in SmsOrder.objects.filter(
                message_id=msg.pk, status=OrderStatus.ACCEPTED
            ).order_by("index"):
                try:
                    job.backend.cancel(order.order_id)
                except OrderNotFound:
                    too_late.append(order.order_id)
                    continue
                SmsOrder.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
        except BaseException:
            job.release(Status.SCHEDULED)
            raise
        if too_late:
            job.release(Status.SCHEDULED, next_status_check_at=timezone.now())
            raise SmsStateError(
                _(
                    "SMS #%(pk)s could not be cancelled: the gateway no longer has order(s) "
                    "%(orders)s scheduled, so it has probably started sending. Its delivery "
                    "status will be checked."
                ),
                code="cancel_too_late",
                params={"pk": msg.pk, "orders": ", ".join(too_late)},
            )
        job.release(
            Status.CANCELLED,
            next_status_check_at=None,
            last_error=text[:ERROR_MAX],
            finished_at=timezone.now(),
        )
        return msg
    raise _state_error(msg)


def _state_error(msg: SmsMessage) -> SmsStateError:
    params = {"pk": msg.pk, "status": msg.get_status_display()}
    if msg.status in (Status.SENDING, Status.UNKNOWN):
        text = _(
            "SMS #%(pk)s is being sent right now (%(status)s) and cannot be cancelled. "
            "Try again in a minute."
        )
    elif msg.status in (Status.FAILED, Status.CANCELLED):
        text = _("SMS #%(pk)s is already %(status)s; there is nothing to cancel.")
    elif msg.status == Status.SCHEDULED:
        text = _("SMS #%(pk)s is busy (its status is being checked). Try again in a minute.")
    else:
        text = _("SMS #%(pk)s has already been sent (%(status)s); it can no longer be cancelled.")
    return SmsStateError(text, code="cannot_cancel", params=params)


def get_credits() -> AccountStatus:
    """The account's remaining credits per message type, from the configured backend."""
    return get_backend().get_status()


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
    """
    conf = get_settings()
    now = timezone.now()
    report = FlushReport()
    due = SmsMessage.objects.filter(due_q(now), status=Status.QUEUED)
    retried_in_a_row = 0
    for page in _id_pages(due, limit):
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


#: How long a sweep holds the sweep lock at most (a crashed sweep frees it after this).
SWEEP_LOCK_SECONDS = 600.0


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
    """
    token = take_lock("sweep", SWEEP_LOCK_SECONDS)
    if token is None:
        logger.info("Sweep skipped: another sweep is running")
        return SweepReport(busy=True)
    try:
        return _sweep(now or timezone.now(), limit)
    finally:
        release_lock("sweep", token)


def _sweep(now: datetime, limit: int | None) -> SweepReport:
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
    for pk in _pages(unknown, limit):
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
            flushed = flush_queue(limit=limit)
            report.sent = flushed.by_status
            report.errors += flushed.errors
            report.stopped_early = flushed.stopped_early
            report.paused_until = flushed.paused_until
        else:
            queued = SmsMessage.objects.filter(due_q(now), status=Status.QUEUED)
            for pk in _pages(queued, limit):
                on_commit(partial(dispatch.enqueue_send, pk))
                report.enqueued += 1
    report.refreshed = refresh_due_statuses(limit=limit, now=now)
    return report


def pending_count() -> int:
    """How many messages are waiting to be sent (QUEUED, due or not)."""
    return SmsMessage.objects.filter(status=Status.QUEUED).count()
