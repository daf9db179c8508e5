"""After sending: polling the gateway for each recipient's delivery state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_smsrest import lifecycle, signals
from django_smsrest.backends import get_backend
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import OrderNotFound
from django_smsrest.models import Kind, OrderStatus, SmsMessage, SmsOrder, SmsRecipient, Status
from django_smsrest.outbox import (
    ERROR_MAX,
    ClaimedMessage,
    LostClaim,
    advance,
    claim,
    describe_error,
    digits,
    lease_free_q,
    send_robust,
    state_counts,
    stopping,
)
from django_smsrest.services.base import (
    BATCH_SIZE,
    logger,
    pages,
)
from django_smsrest.services.blacklist import note_blacklisted

#: Status polls back off from ``STATUS_POLL_BASE_SECONDS`` by doubling, up to this.
STATUS_POLL_MAX_INTERVAL = 3600.0


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
    if not get_backend(conf).supports_status:
        # Nothing to ask: the message stays as it is, and is no longer polled.
        SmsMessage.objects.filter(pk=pk, status__in=list(lifecycle.POLLABLE)).update(
            next_status_check_at=None
        )
        msg = message if isinstance(message, SmsMessage) else SmsMessage.objects.get(pk=pk)
        msg.next_status_check_at = None
        return msg
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
    job = ClaimedMessage(msg, token, conf)
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
        if msg.kind == Kind.GROUPS:
            rows += _group_members(msg, order, status.recipients, rows)
        for row in rows:
            new = reported.get(digits(row.phone_number))
            if new is not None and advance(row, new, delivery_report=delivery_report, now=now):
                changed.append(row)
    if changed:
        SmsRecipient.objects.bulk_update(
            changed, ["state", "delivery_date", "updated_at"], batch_size=BATCH_SIZE
        )
        note_blacklisted(changed)  # BLACKLISTED: no more marketing (issue 23)
    if msg.kind == Kind.GROUPS:
        # The members became known with this report: count them from now on.
        msg.recipient_count = SmsRecipient.objects.filter(message_id=msg.pk).count()
    counts = state_counts(msg)
    new_status, finished = lifecycle.summarize(counts, msg.recipient_count, delivery_report)
    # We hold the claim, so the in-memory counter is current (saves a reload).
    fields: dict[str, Any] = {"status_checks": msg.status_checks + 1}
    if msg.kind == Kind.GROUPS:
        fields["recipient_count"] = msg.recipient_count
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
            still_open = lifecycle.open_count(counts, msg.recipient_count, delivery_report)
            notes.append(
                ngettext(
                    "Stopped checking the delivery status after %(hours)s hours; "
                    "%(n)d recipient never reported a final state.",
                    "Stopped checking the delivery status after %(hours)s hours; "
                    "%(n)d recipients never reported a final state.",
                    still_open,
                )
                % {"hours": f"{conf.status_poll_max_age_hours:g}", "n": still_open}
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


def refresh_due_statuses(
    *,
    limit: int | None = None,
    now: datetime | None = None,
    on_each: Callable[[], object] | None = None,
) -> int:
    """Refresh every SENT/SCHEDULED message whose status check is due; return how many
    were checked. Failures are logged and the loop goes on (each is retried later).
    ``on_each()`` is called before each message (the sweep keeps its lock with it)."""
    now = now or timezone.now()
    due = SmsMessage.objects.filter(
        status__in=list(lifecycle.POLLABLE),
        finished_at__isnull=True,
        next_status_check_at__lte=now,
    )
    done = 0
    for pk in pages(due, limit):
        if stopping.stop_requested():  # [worker] a shutdown: no new request
            break
        if on_each is not None:
            on_each()
        try:
            refresh_status(pk)
        except SmsMessage.DoesNotExist:
            continue
        except Exception:
            logger.exception("Could not refresh the delivery status of SMS #%s", pk)
        done += 1
    return done


def _group_members(
    msg: SmsMessage, order: SmsOrder, reported: Any, rows: list[SmsRecipient]
) -> list[SmsRecipient]:
    """A message to contact groups learns its recipients from the gateway's report: add
    a row (no state yet) for each reported number that has none."""
    known = {digits(row.phone_number) for row in rows}
    new = [
        SmsRecipient(message=msg, order=order, phone_number=r.destination)
        for r in reported
        if r.destination and digits(r.destination) not in known
    ]
    SmsRecipient.objects.bulk_create(new, batch_size=BATCH_SIZE, ignore_conflicts=True)
    return list(
        SmsRecipient.objects.filter(
            order_id=order.pk, phone_number__in=[r.phone_number for r in new]
        ).only("id", "phone_number", "state", "delivery_date")
    )
