"""How a send job ends: sent or scheduled, retried later, given up, or unknown and to be
reconciled. Each ending is one guarded write of the message (and of its orders)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_smsrest import signals, throttle
from django_smsrest.conf import SmsRestSettings
from django_smsrest.exceptions import (
    GatewayConnectionError,
    RateLimited,
)
from django_smsrest.models import (
    OrderStatus,
    SmsMessage,
    SmsOrder,
    SmsRecipient,
    Status,
)
from django_smsrest.outbox.backoff import retry_delay
from django_smsrest.outbox.claimed import ClaimedMessage
from django_smsrest.outbox.decide import sent_fields
from django_smsrest.outbox.reporting import ERROR_MAX, describe_error, send_robust
from django_smsrest.results import DeliveryState


class Outcomes:
    """How a claimed message's send ends: each ending one guarded write of the claim
    (:class:`ClaimedMessage`), then what the world is told (signals)."""

    def __init__(self, claim: ClaimedMessage) -> None:
        self.claim = claim

    @property
    def msg(self) -> SmsMessage:
        return self.claim.msg

    @property
    def conf(self) -> SmsRestSettings:
        return self.claim.conf

    def succeed(self) -> SmsMessage:
        """Every order accepted: :func:`sent_fields`, then :meth:`announce_sent`."""
        self.claim.write(
            **sent_fields(self.msg, self.conf, timezone.now()), **self.claim.aggregates()
        )
        self.announce_sent()
        return self.msg

    def announce_sent(self) -> None:
        """``post_send`` (and ``low_credit`` when it applies) for a message just sent."""
        send_robust(
            signals.post_send,
            message=self.msg,
            result=self.claim.results[-1] if self.claim.results else None,
            results=list(self.claim.results),
            error=None,
        )
        self.check_credit()

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
                self.claim.release(
                    Status.SENT,
                    next_attempt_at=None,
                    next_status_check_at=timezone.now()
                    + timedelta(seconds=self.conf.status_poll_base_seconds),
                    status_checks=0,
                    last_error=reason,
                    **self.claim.aggregates(),
                    **fields,
                )
                SmsRecipient.objects.filter(
                    message_id=msg.pk, order__status=OrderStatus.PENDING
                ).update(state=DeliveryState.ERROR.value, updated_at=timezone.now())
            else:
                self.claim.release(
                    Status.FAILED,
                    next_attempt_at=None,
                    last_error=reason,
                    finished_at=timezone.now(),
                    **self.claim.aggregates(),
                    **fields,
                )
            SmsOrder.objects.filter(message_id=msg.pk, status=OrderStatus.PENDING).update(
                status=OrderStatus.REJECTED
            )
        send_robust(
            signals.post_send,
            message=msg,
            result=self.claim.results[-1] if self.claim.results else None,
            results=list(self.claim.results),
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
        self.claim.release(
            Status.QUEUED,
            next_attempt_at=when,
            attempts=msg.attempts,
            last_error=str(note) % {"n": msg.attempts, "error": reason},
            **self.claim.aggregates(),
        )
        return msg

    def unknown(self, exc: BaseException) -> None:
        """Mark the outcome unknown before asking the gateway, so that a crash during the
        GET leaves a row the sweeper reconciles (never one that looks safe to resend)."""
        self.claim.write(
            status=Status.UNKNOWN,
            lease_until=self.claim.lease(),
            last_error=str(_("Outcome unknown, checking with the gateway: %(error)s"))
            % {"error": describe_error(exc, self.conf)},
            **self.claim.aggregates(),
        )

    def stay_unknown(self, exc: BaseException) -> SmsMessage:
        """The reconciling GET failed too: leave the row UNKNOWN for the sweeper, paced by
        ``next_attempt_at``."""
        when = timezone.now() + timedelta(seconds=retry_delay(self.msg.attempts, self.conf))
        self.claim.release(
            Status.UNKNOWN,
            next_attempt_at=when,
            last_error=str(
                _("Outcome unknown; the gateway could not be asked (%(error)s). Will check again.")
            )
            % {"error": describe_error(exc, self.conf)},
            **self.claim.aggregates(),
        )
        return self.msg

    def cancelled(self, reason: str) -> SmsMessage:
        """A ``pre_send`` receiver vetoed the send: CANCELLED, its pending orders too."""
        with transaction.atomic(using=router.db_for_write(SmsMessage)):
            self.claim.release(
                Status.CANCELLED,
                next_attempt_at=None,
                last_error=reason[:ERROR_MAX],
                finished_at=timezone.now(),
            )
            SmsOrder.objects.filter(message_id=self.msg.pk, status=OrderStatus.PENDING).update(
                status=OrderStatus.CANCELLED
            )
        return self.msg
