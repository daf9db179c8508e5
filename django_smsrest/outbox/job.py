"""The send job: post every pending order of a claimed message under its lease, and end
it with one of the outcomes of :class:`~django_smsrest.outbox.outcomes.Outcomes`."""

from __future__ import annotations

from django.db import router, transaction
from django.utils import timezone

from django_smsrest import screening, signals
from django_smsrest.exceptions import (
    GatewayError,
    GatewayRejected,
    MaybeSentError,
    NotSentError,
    OrderNotFound,
    SendCancelled,
)
from django_smsrest.models import (
    OrderStatus,
    SmsMessage,
    SmsOrder,
    Status,
)
from django_smsrest.outbox.outcomes import Outcomes
from django_smsrest.outbox.reporting import ERROR_MAX, describe_error, logger
from django_smsrest.results import SendResult


class Job(Outcomes):
    """One claimed message being sent (see :meth:`run`)."""

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
            except Exception as exc:
                outcome = self.after_failure(order, exc)
                if isinstance(outcome, SmsMessage):
                    return outcome
                result = outcome
            self.accept(order, result, last=last)
        return self.succeed()

    def after_failure(self, order: SmsOrder, exc: BaseException) -> SmsMessage | SendResult:
        """Classify a failed POST of ``order``: the message as it ended (retry later, given
        up, unknown), or the gateway's answer when a look-up shows the order was accepted
        after all (the caller accepts it and goes on). The one rule for the sequential and
        the batched send."""
        if isinstance(exc, NotSentError):
            if exc.retryable:
                return self.retry(exc)
            if isinstance(exc, GatewayRejected) and self.msg.attempts > 1:
                # An earlier attempt may have gone out after all: its answer was lost, the
                # check came before the gateway had registered the order, and a gateway
                # that refuses a repeated order_id now says so with a 400. Ask before
                # failing a message that was in fact sent.
                try:
                    return self.lookup(order)
                except OrderNotFound:
                    return self.give_up(describe_error(exc, self.conf), exc)
                except GatewayError as lookup_exc:
                    return self.stay_unknown(lookup_exc)
            return self.give_up(describe_error(exc, self.conf), exc)
        # MaybeSentError, or anything we did not expect (a bug after the POST went out is
        # exactly a "maybe sent"): never resend without asking first.
        if not isinstance(exc, MaybeSentError):
            logger.error("Unexpected error sending SMS #%s", self.msg.pk, exc_info=exc)
        self.unknown(exc)
        try:
            return self.lookup(order)
        except OrderNotFound:
            return self.retry(exc)
        except Exception as lookup_exc:
            if not isinstance(lookup_exc, GatewayError):
                logger.exception("Unexpected error reconciling SMS #%s", self.msg.pk)
            return self.stay_unknown(lookup_exc)

    def pre_send(self) -> SmsMessage | None:
        """Screen the recipients (:func:`django_smsrest.screening.screen`: suppression
        list, staging override, quiet hours; a message left with nobody ends CANCELLED),
        then fire ``pre_send``; a ``SendCancelled`` cancels the message (nothing is sent).
        Any other exception from a receiver puts the message back in the queue (it counts
        as an attempt) and is re-raised: it is a bug the developer must see."""
        # Consent gate (issue 23): before any POST, on both the sequential and the batch path.
        self.screen = screening.screen(self.msg, self._orders, self.conf)
        if self.screen.nobody:
            return self.cancel_unsent(self.screen.nobody)
        for _receiver, response in signals.pre_send.send_robust(
            sender=SmsMessage, message=self.msg
        ):
            if isinstance(response, SendCancelled):
                return self.cancel_unsent(str(response.reason))
            if isinstance(response, Exception):
                self.retry(response)
                raise response
        return None

    def cancel_unsent(self, reason: str) -> SmsMessage:
        """End the claimed message CANCELLED with ``reason``, its pending orders never
        posted."""
        with transaction.atomic(using=router.db_for_write(SmsMessage)):
            self.release(
                Status.CANCELLED,
                next_attempt_at=None,
                last_error=reason[:ERROR_MAX],
                finished_at=timezone.now(),
            )
            SmsOrder.objects.filter(message_id=self.msg.pk, status=OrderStatus.PENDING).update(
                status=OrderStatus.CANCELLED
            )
        return self.msg
