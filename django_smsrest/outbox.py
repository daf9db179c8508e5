"""The machinery behind :mod:`django_smsrest.services`: claims, leases, backoff, and the
send job that records each gateway answer. Internal: call the functions in ``services``
(the only public place that changes a message's state); this module exists to keep that
one readable.

The invariants every piece here keeps:

* A row is worked on only under a claim: a conditional UPDATE that stores a fresh
  ``claim_token`` and a ``lease_until``. Every later message write is guarded by that token
  (:meth:`Job.write`); a worker whose lease expired and was taken over gets
  :class:`LostClaim` and stops.
* No transaction is open across an HTTP call: each write is its own autocommit statement.
* "The gateway has order X" is recorded as soon as it is known, without the token guard
  (:meth:`Job.accept`), because it is a fact whoever holds the claim, and it is what keeps
  the next claimant from posting X again.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import router, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_smsrest import lifecycle, signals, throttle
from django_smsrest.backends import BaseBackend, OutgoingOrder, get_backend
from django_smsrest.conf import SmsRestSettings
from django_smsrest.exceptions import (
    GatewayConnectionError,
    GatewayError,
    GatewayRejected,
    MaybeSentError,
    NotSentError,
    OrderNotFound,
    RateLimited,
    SendCancelled,
)
from django_smsrest.models import (
    OrderStatus,
    OutboxLock,
    SmsMessage,
    SmsOrder,
    SmsRecipient,
    Status,
)
from django_smsrest.results import DeliveryState, SendResult

logger = logging.getLogger("django_smsrest")

#: A ``Retry-After`` longer than this is capped (seconds).
RETRY_AFTER_MAX = 6 * 3600.0
#: ``last_error`` is cut to this many characters.
ERROR_MAX = 1000

# Full jitter needs no cryptographic quality; a private instance keeps tests able to seed it.
_random = random.Random()


def retry_delay(
    attempts: int, conf: SmsRestSettings, *, retry_after: float | None = None
) -> float:
    """Seconds to wait before attempt ``attempts + 1``: capped exponential backoff with
    full jitter, ``uniform(0, min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**(attempts-1)))``
    (AWS Builders' Library). A gateway's ``Retry-After`` is a floor (capped at 6 hours)."""
    ceiling = min(conf.retry_max_seconds, conf.retry_base_seconds * 2 ** max(attempts - 1, 0))
    delay = _random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(float(retry_after), RETRY_AFTER_MAX))
    return delay


def due_q(now: datetime) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def lease_free_q(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def describe_error(exc: BaseException, conf: SmsRestSettings) -> str:
    """A ``last_error`` text: the gateway's reason for our own exceptions (already free of
    secrets by contract, scrubbed again here), only the class name for anything else,
    whose text might quote a URL with the password in it."""
    if isinstance(exc, GatewayError):
        text = str(exc)
    else:
        text = str(_("Unexpected error (%(type)s); see the application logs.")) % {
            "type": type(exc).__name__
        }
    if conf.password:  # a Secret: revealed inline, never bound to a plain local
        text = text.replace(conf.password.reveal(), "********")
    return text[:ERROR_MAX]


def outbox_db() -> str:
    """The database alias the outbox writes to (honours database routers)."""
    return router.db_for_write(SmsMessage)


def on_commit(func: Callable[[], Any]) -> None:
    """Run ``func`` after the current transaction commits (now, outside one); an exception
    in it is logged, not raised: the committed row stays and the sweeper picks it up."""
    transaction.on_commit(func, using=outbox_db(), robust=True)


def send_robust(signal: Any, **kwargs: Any) -> None:
    """Send a notification signal; a failing receiver is logged, never breaks the outbox."""
    for receiver, response in signal.send_robust(sender=SmsMessage, **kwargs):
        if isinstance(response, Exception):
            logger.error(
                "django-smsrest signal receiver %r failed",
                receiver,
                exc_info=(type(response), response, response.__traceback__),
            )


class LostClaim(Exception):
    """Our claim token was replaced (lease expired and another worker took over)."""


class Job:
    """One claimed message: every write is guarded by ``token``."""

    def __init__(self, msg: SmsMessage, token: str, conf: SmsRestSettings) -> None:
        self.msg = msg
        self.token = token
        self.conf = conf
        self.results: list[SendResult] = []
        self._backend: BaseBackend | None = None
        self._orders: list[SmsOrder] | None = None

    @classmethod
    def load(cls, pk: int, token: str, conf: SmsRestSettings) -> Job:
        """The job for the message ``pk`` just claimed with ``token``: the message and all
        its orders come in one query (the orders joined to their message)."""
        orders = list(
            SmsOrder.objects.filter(message_id=pk).select_related("message").order_by("index")
        )
        if not orders:  # not created by the services; nothing to send, but be exact
            return cls(SmsMessage.objects.get(pk=pk), token, conf)
        job = cls(orders[0].message, token, conf)
        job._orders = orders
        return job

    @property
    def backend(self) -> BaseBackend:
        if self._backend is None:
            self._backend = get_backend(self.conf)
        return self._backend

    def write(self, **fields: Any) -> None:
        """Guarded UPDATE of the message; mirror the fields on ``self.msg``. A status
        change must be one :data:`~django_smsrest.lifecycle.TRANSITIONS` allows."""
        if "status" in fields:
            lifecycle.check_transition(self.msg.status, fields["status"])
        now = timezone.now()
        done = SmsMessage.objects.filter(pk=self.msg.pk, claim_token=self.token).update(
            updated_at=now, **fields
        )
        if not done:
            raise LostClaim
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):
                setattr(self.msg, name, value)

    def release(self, status: str, **fields: Any) -> None:
        self.write(status=status, claim_token="", lease_until=None, **fields)

    def lease(self) -> datetime:
        return timezone.now() + timedelta(seconds=self.conf.lease_seconds)

    def hold_lease(self) -> None:
        """Make sure the claim is still ours, and will stay ours for a whole POST, before
        a POST goes out. Nobody can take the row over before ``lease_until`` (the sweeper
        only expires past leases), so while more than one HTTP call's time is left this
        costs nothing; otherwise the lease is renewed with a guarded UPDATE, which raises
        :class:`LostClaim` when a worker that stalled finds the row taken over: it stops
        before posting an order the new claimant may be sending too."""
        needed = timedelta(seconds=sum(self.conf.timeout) + 1)
        until = self.msg.lease_until
        if until is None or until - timezone.now() < needed:
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
        rows = (
            SmsRecipient.objects.filter(order_id__in=list(numbers))
            .order_by("id")
            .values_list("order_id", "phone_number")
        )
        for order_pk, number in rows:
            numbers[order_pk].append(number)
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
        return OutgoingOrder(
            message=msg.message,
            recipients=numbers,
            message_type=msg.message_type,
            sender=msg.sender,
            scheduled_delivery_time=when,
            order_id=order.order_id,
            encoding=msg.encoding,
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
        self.results.append(result)
        msg = self.msg
        msg.total_sent = (msg.total_sent or 0) + result.total_sent
        if result.remaining_credits is not None:
            msg.remaining_credits = result.remaining_credits
        if not msg.internal_order_id and result.internal_order_id:
            msg.internal_order_id = result.internal_order_id
        msg.sent_at = msg.sent_at or now
        if not last:
            # Progress write: the aggregates so far, and a fresh lease for the next POST.
            self.write(status=Status.SENDING, lease_until=self.lease(), **self.aggregates())

    def aggregates(self) -> dict[str, Any]:
        msg = self.msg
        return {
            "total_sent": msg.total_sent,
            "remaining_credits": msg.remaining_credits,
            "internal_order_id": msg.internal_order_id,
            "sent_at": msg.sent_at,
        }

    def succeed(self) -> SmsMessage:
        """Every order accepted: SENT, or SCHEDULED while the delivery time is ahead."""
        msg, now = self.msg, timezone.now()
        when = msg.scheduled_delivery_time
        # Delivery can only start at the scheduled time: the first status check waits for it.
        if when is not None and when > now:
            status, start = Status.SCHEDULED, when
        else:
            status, start = Status.SENT, now
        first_check = start + timedelta(seconds=self.conf.status_poll_base_seconds)
        self.release(
            status,
            next_attempt_at=None,
            next_status_check_at=first_check,
            status_checks=0,
            last_error="",
            **self.aggregates(),
        )
        send_robust(
            signals.post_send,
            message=msg,
            result=self.results[-1] if self.results else None,
            results=list(self.results),
            error=None,
        )
        self.check_credit()
        return msg

    def check_credit(self) -> None:
        threshold = self.conf.low_credit_threshold
        remaining = self.msg.remaining_credits
        if threshold is not None and remaining is not None and remaining <= threshold:
            send_robust(
                signals.low_credit,
                message=self.msg,
                remaining_credits=remaining,
                threshold=threshold,
            )

    def give_up(self, reason: str, exc: BaseException | None, **fields: Any) -> SmsMessage:
        """Stop for good. Orders still pending are marked REJECTED. If some orders were
        accepted earlier the message did partly go out: it stays SENT (so its delivery is
        tracked) with the reason in ``last_error`` and the unsent recipients in ERROR."""
        msg = self.msg
        accepted = msg.total_sent is not None
        # The guarded message write comes first, in the same transaction as the order and
        # recipient writes: a worker whose claim was taken over gets LostClaim and marks
        # nothing, not even orders the new claimant is sending.
        with transaction.atomic(using=router.db_for_write(SmsMessage)):
            if accepted:
                self.release(
                    Status.SENT,
                    next_attempt_at=None,
                    next_status_check_at=timezone.now()
                    + timedelta(seconds=self.conf.status_poll_base_seconds),
                    status_checks=0,
                    last_error=reason,
                    **self.aggregates(),
                    **fields,
                )
                SmsRecipient.objects.filter(
                    message_id=msg.pk, order__status=OrderStatus.PENDING
                ).update(state=DeliveryState.ERROR.value, updated_at=timezone.now())
            else:
                self.release(
                    Status.FAILED,
                    next_attempt_at=None,
                    last_error=reason,
                    finished_at=timezone.now(),
                    **self.aggregates(),
                    **fields,
                )
            SmsOrder.objects.filter(message_id=msg.pk, status=OrderStatus.PENDING).update(
                status=OrderStatus.REJECTED
            )
        send_robust(
            signals.post_send,
            message=msg,
            result=self.results[-1] if self.results else None,
            results=list(self.results),
            error=exc,
        )
        return msg

    def retry(self, exc: BaseException) -> SmsMessage:
        """Surely not sent (or proven not sent): QUEUED with backoff (``next_attempt_at``;
        the caller leaves a task hint for then), FAILED when out of attempts or past the
        time budget.

        An attempt that could not reach the gateway at all (connection refused, DNS,
        connect timeout) does not count against ``MAX_ATTEMPTS``: an outage must not burn
        the queue. Such a message fails only once it has waited ``SEND_MAX_AGE_HOURS``."""
        msg, conf = self.msg, self.conf
        reason = describe_error(exc, conf)
        unreachable = isinstance(exc, GatewayConnectionError)
        if unreachable:
            msg.attempts -= 1  # the claim counted it; nothing reached the gateway
        age = timezone.now() - msg.created_at
        if age > timedelta(hours=conf.send_max_age_hours):
            return self.give_up(
                str(_("Not sent within %(hours)s hours of being queued. Last error: %(error)s"))
                % {"hours": f"{conf.send_max_age_hours:g}", "error": reason},
                exc,
                attempts=msg.attempts,
            )
        if msg.attempts >= conf.max_attempts:
            return self.give_up(
                str(_("Gave up after %(n)d attempts. Last error: %(error)s"))
                % {"n": msg.attempts, "error": reason},
                exc,
                attempts=msg.attempts,
            )
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        when = timezone.now() + timedelta(
            seconds=retry_delay(msg.attempts, conf, retry_after=retry_after)
        )
        if isinstance(exc, RateLimited):
            # A 429 is about the account: hold every other send until this one's retry.
            throttle.pause_sending(when, conf=conf)
        if unreachable:
            note = _("The gateway could not be reached, will retry: %(error)s")
        else:
            note = _("Attempt %(n)d failed, will retry: %(error)s")
        self.release(
            Status.QUEUED,
            next_attempt_at=when,
            attempts=msg.attempts,
            last_error=str(note) % {"n": msg.attempts, "error": reason},
            **self.aggregates(),
        )
        return msg

    def unknown(self, exc: BaseException) -> None:
        """Mark the outcome unknown before asking the gateway, so that a crash during the
        GET leaves a row the sweeper reconciles (never one that looks safe to resend)."""
        self.write(
            status=Status.UNKNOWN,
            lease_until=self.lease(),
            last_error=str(_("Outcome unknown, checking with the gateway: %(error)s"))
            % {"error": describe_error(exc, self.conf)},
            **self.aggregates(),
        )

    def stay_unknown(self, exc: BaseException) -> SmsMessage:
        """The reconciling GET failed too: leave the row UNKNOWN for the sweeper, paced by
        ``next_attempt_at``."""
        when = timezone.now() + timedelta(seconds=retry_delay(self.msg.attempts, self.conf))
        self.release(
            Status.UNKNOWN,
            next_attempt_at=when,
            last_error=str(
                _("Outcome unknown; the gateway could not be asked (%(error)s). Will check again.")
            )
            % {"error": describe_error(exc, self.conf)},
            **self.aggregates(),
        )
        return self.msg

    def lookup(self, order: SmsOrder) -> SendResult:
        """``GET sms/{order_id}``: a SendResult if the gateway has the order,
        ``OrderNotFound`` if it does not (404). Other failures propagate."""
        status = self.backend.get_order(order.order_id)
        return SendResult(order_id=order.order_id, total_sent=len(status.recipients))

    def run(self) -> SmsMessage:
        """Send every pending order of the claimed message."""
        veto = self.pre_send()
        if veto is not None:
            return veto
        pending = self.pending_orders()
        for i, (order, numbers) in enumerate(pending):
            last = i == len(pending) - 1
            self.hold_lease()
            try:
                result = self.backend.send(self.outgoing(order, numbers))
            except NotSentError as exc:
                if exc.retryable:
                    return self.retry(exc)
                if isinstance(exc, GatewayRejected) and self.msg.attempts > 1:
                    # An earlier attempt may have gone out after all: its answer was lost,
                    # the check came before the gateway had registered the order, and a
                    # gateway that refuses a repeated order_id now says so with a 400. Ask
                    # before failing a message that was in fact sent.
                    try:
                        result = self.lookup(order)
                    except OrderNotFound:
                        return self.give_up(describe_error(exc, self.conf), exc)
                    except GatewayError as lookup_exc:
                        return self.stay_unknown(lookup_exc)
                    self.accept(order, result, last=last)
                    continue
                return self.give_up(describe_error(exc, self.conf), exc)
            except Exception as exc:
                # MaybeSentError, or anything we did not expect (a bug after the POST went
                # out is exactly a "maybe sent"): never resend without asking first.
                if not isinstance(exc, MaybeSentError):
                    logger.exception("Unexpected error sending SMS #%s", self.msg.pk)
                self.unknown(exc)
                try:
                    result = self.lookup(order)
                except OrderNotFound:
                    return self.retry(exc)
                except Exception as lookup_exc:
                    if not isinstance(lookup_exc, GatewayError):
                        logger.exception("Unexpected error reconciling SMS #%s", self.msg.pk)
                    return self.stay_unknown(lookup_exc)
            self.accept(order, result, last=last)
        return self.succeed()

    def pre_send(self) -> SmsMessage | None:
        """Fire ``pre_send``; a ``SendCancelled`` cancels the message (nothing is sent).
        Any other exception from a receiver puts the message back in the queue (it counts
        as an attempt) and is re-raised: it is a bug the developer must see."""
        for _receiver, response in signals.pre_send.send_robust(
            sender=SmsMessage, message=self.msg
        ):
            if isinstance(response, SendCancelled):
                with transaction.atomic(using=router.db_for_write(SmsMessage)):
                    self.release(
                        Status.CANCELLED,
                        next_attempt_at=None,
                        last_error=str(response.reason)[:ERROR_MAX],
                        finished_at=timezone.now(),
                    )
                    SmsOrder.objects.filter(
                        message_id=self.msg.pk, status=OrderStatus.PENDING
                    ).update(status=OrderStatus.CANCELLED)
                return self.msg
            if isinstance(response, Exception):
                self.retry(response)
                raise response
        return None


def claim(
    pk: int,
    now: datetime,
    conf: SmsRestSettings,
    *conditions: Q,
    sending: bool = False,
    **match: Any,
) -> str | None:
    """One conditional UPDATE taking a lease on the row; the new claim token if this call
    won, ``None`` if the row did not match (another worker won, or it is not in a state
    this operation applies to). ``sending`` also moves it to SENDING and counts an attempt.
    """
    token = uuid.uuid4().hex
    changes: dict[str, Any] = {
        "claim_token": token,
        "lease_until": now + timedelta(seconds=conf.lease_seconds),
        "updated_at": now,
    }
    if sending:
        changes.update(status=Status.SENDING, attempts=F("attempts") + 1)
    won = SmsMessage.objects.filter(*conditions, pk=pk, **match).update(**changes)
    return token if won else None


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


def release_lock(name: str, token: str) -> None:
    """Give the lock back, if it is still ours."""
    OutboxLock.objects.filter(name=name, token=token).update(token="", held_until=None)


def digits(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits[2:] if number.strip().startswith("00") else digits
