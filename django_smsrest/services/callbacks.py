"""Delivery callbacks: a recipient's state pushed by the gateway instead of polled.

The gateway's documentation has no callback API (reference §7.3, unverified): a plugin for
a brand of the same platform says the gateway calls a URL set in the web panel with
``order_id``, ``recipient``, ``status`` and ``delivery_date``. :func:`record_delivery_report`
applies one such report through the same rules as polling (:func:`.delivery.advance`:
forward-only; :func:`~django_smsrest.lifecycle.summarize` for the message), under the same
claim as a status refresh, so a callback and a poll can never overwrite each other. Polling
goes on regardless: a callback only gets there sooner, and a lost one costs nothing.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from django.utils import timezone

from django_smsrest import lifecycle, signals
from django_smsrest.client import parse_gateway_datetime
from django_smsrest.conf import SmsRestSettings, get_settings, get_zone
from django_smsrest.models import Kind, SmsMessage, SmsOrder, SmsRecipient
from django_smsrest.outbox import (
    ClaimedMessage,
    LostClaim,
    claim,
    digits,
    hold,
    lease_free_q,
    send_robust,
)
from django_smsrest.results import DeliveryState, RecipientState
from django_smsrest.services.base import logger
from django_smsrest.services.blacklist import note_blacklisted
from django_smsrest.services.delivery import advance, state_counts

__all__ = ["CallbackOutcome", "record_delivery_report"]


class CallbackOutcome(enum.StrEnum):
    """What became of one callback. All are answered 200 (the provider must not retry),
    except :attr:`BAD_DATE`: a report that is itself broken is refused with a 400."""

    APPLIED = "applied"  # the recipient's state moved forward
    UNCHANGED = "unchanged"  # not forward (a late or repeated report): ignored
    UNKNOWN_ORDER = "unknown order"
    UNKNOWN_RECIPIENT = "unknown recipient"
    UNREADABLE = "unreadable status"
    # The message is finished, or it went to contact groups: polling decides.
    BUSY = "busy"
    # Another worker holds the message, or it is not recorded as sent yet: the report is
    # kept and applied when that claim ends.
    HELD = "held"
    # A delivery_date that cannot be read or lies outside any sane window (year 1, 9999):
    # refused, nothing is looked up or stored.
    BAD_DATE = "unreadable delivery_date"


def record_delivery_report(
    order_id: str, recipient: str, status: str, delivery_date: str | None = None
) -> CallbackOutcome:
    """Apply one delivery report for ``recipient`` of our order ``order_id``.

    ``status`` is a wire state (``DLVRD``, ``UNKNRCPT``...); ``delivery_date`` the
    gateway's ``yyyyMMddHHmmss`` in ``GATEWAY_TIMEZONE``. Fires
    ``delivery_status_changed`` when something changed. Never raises for what the
    gateway sent: the outcome says what happened, and every case but APPLIED is logged.
    A ``delivery_date`` that is given but unreadable, or outside
    :func:`~django_smsrest.client.dates.in_sane_window`, is :attr:`CallbackOutcome.BAD_DATE`
    before anything is read or written.
    """
    conf = get_settings()
    delivered_at = parse_gateway_datetime(delivery_date, get_zone(conf.gateway_timezone))
    if delivery_date and delivery_date.strip() and delivered_at is None:
        logger.warning(
            "Delivery callback with an unreadable delivery_date %r refused", delivery_date[:40]
        )
        return CallbackOutcome.BAD_DATE
    state = DeliveryState.parse(status)
    if state is DeliveryState.UNKNOWN and status.strip().upper() != "UNKNOWN":
        logger.warning("Delivery callback with an unreadable status %r ignored", status[:20])
        return CallbackOutcome.UNREADABLE
    order = (
        SmsOrder.objects.filter(order_id=order_id)
        .only("pk", "message_id", "message__kind")
        .select_related("message")
        .first()
    )
    if order is None:
        logger.warning("Delivery callback for an unknown order %r ignored", order_id[:40])
        return CallbackOutcome.UNKNOWN_ORDER
    if order.message.kind == Kind.GROUPS:
        # A group's members are only known from a full GET sms/{order_id}: one report
        # cannot say whether the message is finished. Polling handles group messages.
        return CallbackOutcome.BUSY
    now = timezone.now()
    reported = RecipientState(
        destination=recipient,
        state=state,
        delivery_date=delivered_at,
        raw_status=state.value,
    )
    token = _claim(order, conf)
    if token is None:
        if SmsMessage.objects.filter(pk=order.message_id, finished_at__isnull=False).exists():
            logger.info("Delivery callback for order %s ignored: finished", order_id)
            return CallbackOutcome.BUSY
        # Claimed (being sent, its results being written, polled) or not recorded as sent
        # yet: keep the report for whoever ends that claim (outbox.reports), then try
        # once more, in case the claim ended before the report was kept.
        hold(order, reported)
        token = _claim(order, conf)
        if token is None:
            logger.info("Delivery callback for order %s held until its claim ends", order_id)
            return CallbackOutcome.HELD
        job = ClaimedMessage.load(order.message_id, token, conf)
        try:
            job.release(job.msg.status)  # applies what is held, ours included
        except LostClaim:
            return CallbackOutcome.HELD
        return CallbackOutcome.APPLIED
    job = ClaimedMessage.load(order.message_id, token, conf)
    msg = job.msg
    previous = msg.status
    mtype = conf.message_types.get(msg.message_type)
    delivery_report = mtype.delivery_report if mtype is not None else True
    try:
        outcome, changed = _apply(order, reported, delivery_report, now)
        note_blacklisted(changed)  # BLACKLISTED: no more marketing (issue 23)
        fields: dict[str, Any] = {}
        new_status = None
        if changed:
            counts = state_counts(msg)
            new_status, finished = lifecycle.summarize(
                counts, msg.recipient_count, delivery_report
            )
            if finished:
                fields.update(finished_at=now, next_status_check_at=None)
        job.release(new_status or msg.status, **fields)
    except LostClaim:
        return CallbackOutcome.BUSY
    except BaseException:
        job.release(msg.status)  # give the row back at once, not at the lease's end
        raise
    if changed or msg.status != previous:
        send_robust(
            signals.delivery_status_changed,
            message=msg,
            previous_status=previous,
            recipients=changed,
        )
    return outcome


def _claim(order: SmsOrder, conf: SmsRestSettings) -> str | None:
    """Claim ``order``'s message to apply a report: sent or scheduled, not finished, not
    claimed by anyone else."""
    now = timezone.now()
    return claim(
        order.message_id,
        now,
        conf,
        lease_free_q(now),
        status__in=list(lifecycle.POLLABLE),
        finished_at__isnull=True,
    )


def _apply(
    order: SmsOrder, reported: RecipientState, delivery_report: bool, now: datetime
) -> tuple[CallbackOutcome, list[SmsRecipient]]:
    """Move the one recipient row forward if the report allows it (and save it)."""
    # Stored numbers are E.164; the gateway may drop the "+" or write "00".
    row = (
        SmsRecipient.objects.filter(
            order_id=order.pk, phone_number="+" + digits(reported.destination)
        )
        .only("id", "phone_number", "state", "delivery_date")
        .first()
    )
    if row is None:
        logger.warning("Delivery callback for %s: no such recipient in that order", order)
        return CallbackOutcome.UNKNOWN_RECIPIENT, []
    if not advance(row, reported, delivery_report=delivery_report, now=now):
        return CallbackOutcome.UNCHANGED, []
    row.save(update_fields=["state", "delivery_date", "updated_at"])
    return CallbackOutcome.APPLIED, [row]
