"""Delivery reports that must wait for a claim to end, and the one rule that moves a
recipient's state forward.

A delivery callback can come while its message is claimed (a worker is posting it, writing
the batch's results, reconciling it or polling it) or before the message was recorded as
sent. Such a report is kept (:func:`hold`, a :class:`~django_smsrest.models.
HeldDeliveryReport` row) and applied by whoever ends the claim that leaves the message sent:
that release is written with the condition "no held report" (:func:`none_held`, part of
the same UPDATE, so the common case costs nothing), and when a report is held the claimant,
still holding the claim, applies it (:func:`apply_held`) before it lets the row go.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q

from django_smsrest import lifecycle
from django_smsrest.conf import SmsRestSettings
from django_smsrest.models import HeldDeliveryReport, SmsMessage, SmsOrder, SmsRecipient, Status
from django_smsrest.outbox.reporting import digits
from django_smsrest.results import DeliveryState, RecipientState

#: The statuses a release records "sent" with: held reports are applied first.
SENT_STATUSES = lifecycle.POLLABLE | {
    Status.DELIVERED,
    Status.PARTIALLY_DELIVERED,
    Status.UNDELIVERED,
}
#: The statuses a release ends a message with unsent (failed, cancelled, expired): its
#: held reports are dropped, as a callback for a finished message is ("busy").
UNSENT_ENDINGS = lifecycle.FINAL - SENT_STATUSES


def advance(
    row: SmsRecipient, new: RecipientState, *, delivery_report: bool, now: datetime
) -> bool:
    """Apply a reported state to ``row`` (in memory) if it moves forward
    (:func:`~django_smsrest.lifecycle.delivery_moves_forward`); whether it changed. The one
    rule for polling, callbacks and held reports."""
    old = DeliveryState.parse(row.state) if row.state else None
    if not lifecycle.delivery_moves_forward(
        old,
        new.state,
        delivery_report=delivery_report,
        dated=bool(new.delivery_date and not row.delivery_date),
    ):
        return False
    row.state = new.state.value
    row.delivery_date = new.delivery_date or row.delivery_date
    row.updated_at = now
    return True


def state_counts(msg: SmsMessage) -> dict[str, int]:
    """How many of ``msg``'s recipients are in each wire state (for ``summarize``)."""
    return dict(
        SmsRecipient.objects.filter(message_id=msg.pk)
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )


def delivery_report_expected(msg: SmsMessage, conf: SmsRestSettings) -> bool:
    """Whether ``msg``'s message type gets delivery reports (unknown types: yes)."""
    mtype = conf.message_types.get(msg.message_type)
    return mtype.delivery_report if mtype is not None else True


def none_held() -> Q:
    """The message has no held report (a condition on :class:`SmsMessage` rows)."""
    return ~Q(Exists(HeldDeliveryReport.objects.filter(message_id=OuterRef("pk"))))


def hold(order: SmsOrder, reported: RecipientState) -> None:
    """Keep a report for ``order``'s message until a claim that records it sent ends."""
    HeldDeliveryReport.objects.create(
        message_id=order.message_id,
        order=order,
        phone_number=reported.destination[:32],
        state=reported.state.value,
        delivery_date=reported.delivery_date,
    )


def drop_held(msg: SmsMessage) -> int:
    """Delete the reports held for ``msg``, which ended unsent (:data:`UNSENT_ENDINGS`):
    no claim that records it sent will come to apply them. How many there were."""
    deleted, _by_model = HeldDeliveryReport.objects.filter(message_id=msg.pk).delete()
    return deleted


def apply_held(msg: SmsMessage, conf: SmsRestSettings, now: datetime) -> list[SmsRecipient]:
    """Apply (forward only) and delete every report held for ``msg``; the recipient rows
    that changed (saved). The caller holds the message's claim."""
    held = list(HeldDeliveryReport.objects.filter(message_id=msg.pk).order_by("pk"))
    if not held:
        return []
    expected = delivery_report_expected(msg, conf)
    rows = {
        (row.order_id, digits(row.phone_number)): row
        for row in SmsRecipient.objects.filter(
            order_id__in={report.order_id for report in held}
        ).only("id", "order_id", "phone_number", "state", "delivery_date")
    }
    changed: dict[int, SmsRecipient] = {}
    for report in held:
        row = rows.get((report.order_id, digits(report.phone_number)))
        reported = RecipientState(
            destination=report.phone_number,
            state=DeliveryState.parse(report.state),
            delivery_date=report.delivery_date,
            raw_status=report.state,
        )
        if row is not None and advance(row, reported, delivery_report=expected, now=now):
            changed[row.pk] = row
    if changed:
        SmsRecipient.objects.bulk_update(
            list(changed.values()), ["state", "delivery_date", "updated_at"]
        )
    HeldDeliveryReport.objects.filter(pk__in=[report.pk for report in held]).delete()
    return list(changed.values())
