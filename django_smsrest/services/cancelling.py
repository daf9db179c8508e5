"""Cancelling a message that has not gone out, and the account's credits."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from django_smsrest.backends import get_backend
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import OrderNotFound
from django_smsrest.models import OrderStatus, SmsMessage, SmsOrder, Status
from django_smsrest.outbox import (
    ERROR_MAX,
    ClaimedMessage,
    claim,
    lease_free_q,
    outbox_db,
)
from django_smsrest.results import AccountStatus
from django_smsrest.services.base import (
    SmsStateError,
    as_message,
)

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
    msg = as_message(message)
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
        if not get_backend(conf).supports_cancel:
            raise SmsStateError(
                _(
                    "SMS #%(pk)s is scheduled at the gateway, and the configured backend "
                    "cannot cancel a scheduled message."
                ),
                code="cancel_unsupported",
                params={"pk": msg.pk},
            )
        token = claim(msg.pk, now, conf, lease_free_q(now), status__in=[Status.SCHEDULED])
        if token is None:
            msg.refresh_from_db()
            raise _state_error(msg)
        job = ClaimedMessage(msg, token, conf)
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
                SmsOrder.objects.filter(pk=order.pk, status=OrderStatus.ACCEPTED).update(
                    status=OrderStatus.CANCELLED
                )
        except BaseException:
            job.release(Status.SCHEDULED)
            raise
        if too_late:
            job.release(Status.SCHEDULED, next_status_check_at=timezone.now())
            raise SmsStateError(
                ngettext_lazy(
                    "SMS #%(pk)s could not be cancelled: the gateway no longer has order "
                    "%(orders)s scheduled, so it has probably started sending. Its delivery "
                    "status will be checked.",
                    "SMS #%(pk)s could not be cancelled: the gateway no longer has orders "
                    "%(orders)s scheduled, so it has probably started sending. Its delivery "
                    "status will be checked.",
                    "n",
                ),
                code="cancel_too_late",
                params={"pk": msg.pk, "orders": ", ".join(too_late), "n": len(too_late)},
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
