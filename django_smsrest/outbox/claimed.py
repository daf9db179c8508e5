"""A claimed message: loading it with its orders, guarded writes, the lease, and recording
each order the gateway accepted."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from django.utils import timezone

from django_smsrest import codes, lifecycle, signals
from django_smsrest.backends import BaseBackend, OutgoingOrder, get_backend
from django_smsrest.conf import SmsRestSettings
from django_smsrest.models import (
    Kind,
    OrderStatus,
    SmsMessage,
    SmsOrder,
    SmsRecipient,
    Status,
)
from django_smsrest.outbox import leases, reports
from django_smsrest.outbox.claims import (
    LostClaim,
)
from django_smsrest.outbox.reporting import send_robust
from django_smsrest.results import SendResult
from django_smsrest.screening import PASS, Screen


class ClaimedMessage:
    """One claimed message: every write is guarded by ``token``. What a send job stands
    on (loading, guarded writes, the lease, recording accepted orders); the job itself is
    :class:`~django_smsrest.outbox.job.Job`, which ends it with
    :class:`~django_smsrest.outbox.outcomes.Outcomes`."""

    def __init__(
        self,
        msg: SmsMessage,
        token: str,
        conf: SmsRestSettings,
        *,
        backend: BaseBackend | None = None,
        orders: list[SmsOrder] | None = None,
    ) -> None:
        """``orders``: all the message's orders when they were loaded with it (read once
        by :meth:`pending_orders`; otherwise it queries them)."""
        self.msg = msg
        self.token = token
        self.conf = conf
        self.results: list[SendResult] = []
        self._backend = backend
        self._orders = orders
        #: Kind.PARAMS: each pending recipient's placeholder values, by number (filled by
        #: :meth:`pending_orders`, or by whoever loads the recipients; read by
        #: :meth:`outgoing`).
        self.params: dict[str, dict[str, str]] = {}
        #: Who the orders really go to (the consent gate, :mod:`~django_smsrest.screening`):
        #: set by :meth:`Job.pre_send` before any POST, applied by :meth:`outgoing`.
        self.screen: Screen = PASS

    @property
    def loaded_orders(self) -> list[SmsOrder] | None:
        """The orders loaded with the message (``None``: not loaded; they are queried when
        needed). The consent gate marks the ones it cancels on this very list."""
        return self._orders

    @classmethod
    def load(
        cls, pk: int, token: str, conf: SmsRestSettings, *, backend: BaseBackend | None = None
    ) -> Self:
        """The claimed message ``pk`` just claimed with ``token``: the message and all
        its orders come in one query (the orders joined to their message)."""
        orders = list(
            SmsOrder.objects.filter(message_id=pk).select_related("message").order_by("index")
        )
        if not orders:  # not created by the services; nothing to send, but be exact
            return cls(SmsMessage.objects.get(pk=pk), token, conf, backend=backend)
        return cls(orders[0].message, token, conf, backend=backend, orders=orders)

    @property
    def backend(self) -> BaseBackend:
        if self._backend is None:
            self._backend = get_backend(self.conf)
        return self._backend

    def write(self, **fields: Any) -> None:
        """Guarded UPDATE of the message; mirror the fields on ``self.msg``. A status
        change must be one :data:`~django_smsrest.lifecycle.TRANSITIONS` allows.

        A write that releases the claim with a sent status is made on condition that no
        delivery report is held for the message (:mod:`~django_smsrest.outbox.reports`):
        when one is, the report is applied first, under the claim, and the status summed
        up again (:meth:`_release_with_held`). A release that ends the message unsent
        drops the reports held for it (:func:`~django_smsrest.outbox.reports.drop_held`).
        """
        if "status" in fields:
            lifecycle.check_transition(self.msg.status, fields["status"])
        now = timezone.now()
        ours = SmsMessage.objects.filter(pk=self.msg.pk, claim_token=self.token)
        releases_sent = (
            fields.get("claim_token") == ""
            and fields.get("status", self.msg.status) in reports.SENT_STATUSES
        )
        done = (ours.filter(reports.none_held()) if releases_sent else ours).update(
            updated_at=now, **fields
        )
        if not done:
            if releases_sent and ours.exists():
                self._release_with_held(fields)
                return
            raise LostClaim
        self.mirror(updated_at=now, **fields)
        if fields.get("claim_token") == "" and self.msg.status in reports.UNSENT_ENDINGS:
            reports.drop_held(self.msg)

    def _release_with_held(self, fields: dict[str, Any]) -> None:
        """A release that found delivery reports held: write ``fields`` but keep the
        claim, apply the reports, sum the recipients' states up into the message's status
        (as a callback would), then release (again on condition: a report that came
        meanwhile is applied the same way). Fires ``delivery_status_changed``."""
        keep = {k: v for k, v in fields.items() if k not in ("claim_token", "lease_until")}
        self.write(**keep)
        previous = self.msg.status
        changed = reports.apply_held(self.msg, self.conf, timezone.now())
        status, finished = lifecycle.summarize(
            reports.state_counts(self.msg),
            self.msg.recipient_count,
            reports.delivery_report_expected(self.msg, self.conf),
        )
        more: dict[str, Any] = {}
        if finished:
            more.update(finished_at=timezone.now(), next_status_check_at=None)
        self.write(status=status or self.msg.status, claim_token="", lease_until=None, **more)
        if changed or self.msg.status != previous:
            send_robust(
                signals.delivery_status_changed,
                message=self.msg,
                previous_status=previous,
                recipients=changed,
            )

    def mirror(self, **fields: Any) -> None:
        """Set on ``self.msg`` the values just written to its row (expressions, which
        only the database knows the result of, are skipped)."""
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):
                setattr(self.msg, name, value)

    def release(self, status: str, **fields: Any) -> None:
        self.write(status=status, claim_token="", lease_until=None, **fields)

    def lease(self) -> datetime:
        """A fresh lease for a send (:func:`~django_smsrest.outbox.leases.send_lease`)."""
        return timezone.now() + leases.send_lease(self.conf, self.backend)

    def hold_lease(self) -> None:
        """Make sure the claim is still ours, and will stay ours for a whole send, before
        a POST goes out (:func:`~django_smsrest.outbox.leases.covers`). Nobody can take
        the row over before ``lease_until`` (the sweeper only expires past leases), so
        while the lease covers the worst case of a send this costs nothing; otherwise the
        lease is renewed with a guarded UPDATE, which raises :class:`LostClaim` when a
        worker that stalled finds the row taken over: it stops before posting an order the
        new claimant may be sending too."""
        if not leases.covers(self.msg.lease_until, timezone.now(), self.backend):
            self.write(lease_until=self.lease())

    def pending_orders(self) -> list[tuple[SmsOrder, tuple[str, ...]]]:
        """The orders not yet accepted, each with its recipients (one query for the
        recipients, and one for the orders unless :meth:`load` brought them).

        Also brings the message's aggregates in line with the orders already accepted: a
        worker killed between recording an accepted order and writing the message leaves
        ``total_sent`` behind, and ``give_up`` reads it to tell "partly sent" from
        "nothing sent" (found by tests/test_crash_recovery.py)."""
        every, self._orders = self._orders, None  # loaded with the message, read once
        if every is None:
            every = list(SmsOrder.objects.filter(message_id=self.msg.pk).order_by("index"))
        self._sync_aggregates([o for o in every if o.status == OrderStatus.ACCEPTED])
        orders = [o for o in every if o.status == OrderStatus.PENDING]
        if not orders:
            return []
        numbers: dict[int, list[str]] = {order.pk: [] for order in orders}
        personalised = self.msg.kind == Kind.PARAMS
        fields = (
            ("order_id", "phone_number", "params")
            if personalised
            else ("order_id", "phone_number")
        )
        rows = SmsRecipient.objects.filter(order_id__in=list(numbers)).order_by("id")
        for order_pk, number, *values in rows.values_list(*fields):
            numbers[order_pk].append(number)
            if personalised:
                self.params[number] = values[0]
        return [(order, tuple(numbers[order.pk])) for order in orders]

    def _sync_aggregates(self, accepted: list[SmsOrder]) -> None:
        """Recompute the message's aggregates (in memory; the next guarded write stores
        them) from its accepted orders, when they disagree."""
        if not accepted:
            return
        msg = self.msg
        total = sum(order.total_sent or 0 for order in accepted)
        if msg.total_sent == total:
            return
        msg.total_sent = total
        credits = [o.remaining_credits for o in accepted if o.remaining_credits is not None]
        if credits and msg.remaining_credits is None:
            msg.remaining_credits = credits[-1]
        if not msg.internal_order_id:
            msg.internal_order_id = next(
                (o.internal_order_id for o in accepted if o.internal_order_id), ""
            )
        times = [o.accepted_at for o in accepted if o.accepted_at is not None]
        if msg.sent_at is None and times:
            msg.sent_at = min(times)

    def outgoing(self, order: SmsOrder, numbers: tuple[str, ...]) -> OutgoingOrder:
        msg = self.msg
        when = msg.scheduled_delivery_time
        if when is not None and when <= timezone.now():
            # The message waited in the queue past its time (retries, a backlog): send it
            # now rather than ask the gateway to schedule it in the past (a 400).
            when = None
        # The consent gate's decision (Job.pre_send): suppressed recipients out, or the
        # staging override's numbers in.
        return self.screen.address(
            OutgoingOrder(
                message=codes.text_to_post(self),  # a login code's clear text (codes.py)
                recipients=numbers,
                message_type=msg.message_type,
                sender=msg.sender,
                scheduled_delivery_time=when,
                order_id=order.order_id,
                encoding=msg.encoding,
                params=tuple(self.params[number] for number in numbers) if self.params else (),
                groups=tuple(msg.groups) if msg.kind == Kind.GROUPS else (),
                campaign_name=msg.campaign_name,
            )
        )

    def accept(self, order: SmsOrder, result: SendResult, *, last: bool) -> None:
        """Record an accepted order. Not guarded by the token on purpose: "the gateway has
        order X" is a fact whoever holds the claim, and recording it is what stops the
        next claimant from posting X again. PENDING -> ACCEPTED only, never back."""
        now = timezone.now()
        SmsOrder.objects.filter(pk=order.pk, status=OrderStatus.PENDING).update(
            status=OrderStatus.ACCEPTED,
            internal_order_id=result.internal_order_id or "",
            total_sent=result.total_sent,
            remaining_credits=result.remaining_credits,
            accepted_at=now,
        )
        self.note_accepted(result, now)
        if not last:
            # Progress write: the aggregates so far, and a fresh lease for the next POST.
            self.write(status=Status.SENDING, lease_until=self.lease(), **self.aggregates())

    def note_accepted(self, result: SendResult, now: datetime) -> None:
        """Add an accepted order's answer to the message's aggregates (in memory; the next
        guarded write stores them): the one rule for the sequential and the batched send.
        Once per order: a batch write that failed with its connection (nothing written, or
        the commit's answer lost) is written again on a new connection with the same
        answers, and must not count them twice."""
        if any(noted.order_id == result.order_id for noted in self.results):
            return
        self.results.append(result)
        msg = self.msg
        msg.total_sent = (msg.total_sent or 0) + result.total_sent
        if result.remaining_credits is not None:
            msg.remaining_credits = result.remaining_credits
        if not msg.internal_order_id and result.internal_order_id:
            msg.internal_order_id = result.internal_order_id
        msg.sent_at = msg.sent_at or now

    def aggregates(self) -> dict[str, Any]:
        msg = self.msg
        return {
            "total_sent": msg.total_sent,
            "remaining_credits": msg.remaining_credits,
            "internal_order_id": msg.internal_order_id,
            "sent_at": msg.sent_at,
        }

    def lookup(self, order: SmsOrder) -> SendResult:
        """``GET sms/{order_id}``: a SendResult if the gateway has the order,
        ``OrderNotFound`` if it does not (404). Other failures propagate."""
        status = self.backend.get_order(order.order_id)
        return SendResult(order_id=order.order_id, total_sent=len(status.recipients))
