"""The send-time consent gate: who a claimed message is really POSTed to.

One hook for the send engine, called once per claimed message just before its POSTs
(:meth:`django_smsrest.outbox.job.Job.pre_send`, which both the sequential send and the
batched flush go through), and applied to every order on its way out
(:meth:`~django_smsrest.outbox.claimed.ClaimedMessage.outgoing`):

* **Suppression** (marketing messages only): recipients whose number is on the
  suppression list (:class:`~django_smsrest.models.Suppression`) are marked
  ``SUPPRESSED`` on the row and left out of the POST, so they are neither sent nor charged.
  Checked at every send attempt, so an opt-out between queueing and sending holds; once
  a recipient was skipped it stays skipped for that message. An order left with nobody is
  cancelled (never POSTed); when nobody is left at all, the message ends CANCELLED with
  the reason, without a POST. Transactional messages are never screened.
* **Staging override** (``SMSREST["OVERRIDE_RECIPIENTS"]``): every order goes to those
  numbers instead; the recipient rows keep who the message was for, and
  ``SmsMessage.overridden_to`` records where it really went.
* **Quiet hours** (``SMSREST["QUIET_HOURS"]``, marketing messages with no schedule of
  their own): due while a recipient is inside them, the message is scheduled at the
  gateway for their end (:mod:`django_smsrest.quiet`).

It writes only facts about the claimed message (recipient states, orders never posted,
``overridden_to``), each guarded by the message's claim token where it touches the
message. No HTTP.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext

from django_smsrest import quiet
from django_smsrest.backends.base import OutgoingOrder
from django_smsrest.conf import SmsRestSettings
from django_smsrest.models import (
    Kind,
    OrderStatus,
    Purpose,
    SmsMessage,
    SmsOrder,
    SmsRecipient,
    Suppression,
)
from django_smsrest.results import DeliveryState

__all__ = ["PASS", "Screen", "screen"]

SUPPRESSED = str(DeliveryState.SUPPRESSED)
logger = logging.getLogger("django_smsrest")


@dataclass(frozen=True)
class Screen:
    """What the gate decided for one claimed message.

    ``blocked``: numbers not to POST; ``override``: post every order to these instead
    (empty: off); ``nobody``: the reason the message must end without a POST (empty: it
    goes out)."""

    blocked: frozenset[str] = frozenset()
    override: tuple[str, ...] = ()
    nobody: str = ""

    def address(self, order: OutgoingOrder) -> OutgoingOrder:
        """``order`` as it must really go out: without the blocked recipients, or to the
        override numbers (a personalised order gives them the values of its recipients,
        in turn; an order to contact groups becomes a plain one)."""
        if self.override:
            params: tuple[Mapping[str, str], ...] = ()
            if order.params:
                params = tuple(
                    order.params[i % len(order.params)] for i in range(len(self.override))
                )
            return dataclasses.replace(order, recipients=self.override, params=params, groups=())
        if not self.blocked or not any(n in self.blocked for n in order.recipients):
            return order
        keep = [i for i, n in enumerate(order.recipients) if n not in self.blocked]
        return dataclasses.replace(
            order,
            recipients=tuple(order.recipients[i] for i in keep),
            params=tuple(order.params[i] for i in keep) if order.params else (),
        )


#: The gate's answer when nothing applies.
PASS = Screen()


def screen(msg: SmsMessage, orders: Sequence[SmsOrder] | None, conf: SmsRestSettings) -> Screen:
    """Decide who ``msg`` (claimed: ``msg.claim_token`` is the claim) goes to, and record
    it: recipients to skip marked ``SUPPRESSED``, orders left with nobody ``CANCELLED`` (in
    the database and on the ``orders`` given, which the caller is about to walk), the
    override in ``overridden_to``, a marketing message's schedule for the end of quiet
    hours. A few queries when something applies, one for a marketing message with no
    suppressed recipient and quiet hours off, none for a transactional one."""
    override = conf.override_recipients
    if override and list(msg.overridden_to) != list(override):
        SmsMessage.objects.filter(pk=msg.pk, claim_token=msg.claim_token).update(
            overridden_to=list(override)
        )
        msg.overridden_to = list(override)
    if msg.purpose != Purpose.MARKETING:
        return Screen(override=override) if override else PASS
    decided = _suppress(msg, orders, override)
    if not decided.nobody and conf.quiet_hours is not None:
        _respect_quiet_hours(msg, conf.quiet_hours)
    return decided


def _suppress(
    msg: SmsMessage, orders: Sequence[SmsOrder] | None, override: tuple[str, ...]
) -> Screen:
    """The suppression part of :func:`screen` (a marketing message)."""
    if msg.kind == Kind.GROUPS:
        # Contact groups: the members are only known to the gateway, which applies its
        # own blacklist (send_sms --sync-blacklist pushes ours there).
        return Screen(override=override) if override else PASS
    pending = SmsRecipient.objects.filter(message_id=msg.pk, order__status=OrderStatus.PENDING)
    listed = Suppression.objects.filter(phone_number=OuterRef("phone_number"))
    blocked_rows = list(
        pending.filter(Q(state=SUPPRESSED) | Q(Exists(listed))).values_list(
            "pk", "order_id", "phone_number", "state"
        )
    )
    if not blocked_rows:
        return Screen(override=override) if override else PASS
    fresh = [pk for pk, _order, _number, state in blocked_rows if state != SUPPRESSED]
    if fresh:
        SmsRecipient.objects.filter(pk__in=fresh).update(state=SUPPRESSED)
    blocked_per_order: dict[int, int] = {}
    for _pk, order_pk, _number, _state in blocked_rows:
        blocked_per_order[order_pk] = blocked_per_order.get(order_pk, 0) + 1
    sizes = dict(
        pending.order_by().values("order_id").annotate(n=Count("pk")).values_list("order_id", "n")
    )
    empty = [pk for pk, n in sizes.items() if blocked_per_order.get(pk, 0) >= n]
    if empty:
        SmsOrder.objects.filter(pk__in=empty, status=OrderStatus.PENDING).update(
            status=OrderStatus.CANCELLED
        )
        for order in orders or ():
            if order.pk in empty:
                order.status = OrderStatus.CANCELLED
    nobody = ""
    if (
        len(empty) == len(sizes)
        and not SmsOrder.objects.filter(message_id=msg.pk, status=OrderStatus.ACCEPTED).exists()
    ):
        nobody = gettext(
            "Not sent: every recipient is on the suppression list (opted out of marketing)."
        )
    return Screen(
        blocked=frozenset(number for _pk, _order, number, _state in blocked_rows),
        override=override,
        nobody=nobody,
    )


def _respect_quiet_hours(msg: SmsMessage, hours: tuple[time, time]) -> None:
    """A marketing message with no schedule of its own, due while one of its recipients
    is inside quiet hours (:mod:`django_smsrest.quiet`), is scheduled at the gateway for
    their end: ``scheduled_delivery_time`` is written on the claimed row (and on ``msg``,
    which ``outgoing()`` reads), so it ends SCHEDULED and can still be cancelled. An
    explicitly scheduled message is never moved."""
    from django.conf import settings

    if msg.scheduled_delivery_time is not None:
        return
    numbers = SmsRecipient.objects.filter(
        message_id=msg.pk, order__status=OrderStatus.PENDING
    ).exclude(state=SUPPRESSED)
    zones = quiet.zones_for(numbers.values_list("phone_number", flat=True), settings.TIME_ZONE)
    until = quiet.quiet_until(timezone.now(), zones, *hours)
    if until is None:
        return
    SmsMessage.objects.filter(pk=msg.pk, claim_token=msg.claim_token).update(
        scheduled_delivery_time=until
    )
    msg.scheduled_delivery_time = until
    logger.info("SMS #%s: quiet hours, scheduled at the gateway for %s", msg.pk, until)
