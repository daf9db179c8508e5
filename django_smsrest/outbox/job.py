"""The send job: post every pending order of a claimed message under its lease, and end
it as :mod:`~django_smsrest.outbox.decide` says, recorded by
:class:`~django_smsrest.outbox.outcomes.Outcomes`.

Three jobs, three objects: the claim (:class:`ClaimedMessage`: the row under its token,
its lease, its orders), the decisions (:mod:`.decide`: what an answer means, no I/O) and
the record (:class:`Outcomes`: each ending one guarded write). :class:`Job` puts them
together for one message; the batched flush (:mod:`.batch`) uses the same pieces for many.
"""

from __future__ import annotations

from typing import Self

from django_smsrest import codes, screening, signals
from django_smsrest.backends import BaseBackend, OutgoingOrder
from django_smsrest.conf import SmsRestSettings
from django_smsrest.exceptions import (
    GatewayError,
    MaybeSentError,
    OrderNotFound,
    SendCancelled,
)
from django_smsrest.models import SmsMessage, SmsOrder
from django_smsrest.outbox.claimed import ClaimedMessage
from django_smsrest.outbox.decide import Verdict, failure_verdict
from django_smsrest.outbox.outcomes import Outcomes
from django_smsrest.outbox.reporting import describe_error, logger
from django_smsrest.results import SendResult


class Job:
    """One claimed message being sent (see :meth:`run`)."""

    def __init__(self, claim: ClaimedMessage) -> None:
        self.claim = claim
        self.record = Outcomes(claim)

    @classmethod
    def load(
        cls, pk: int, token: str, conf: SmsRestSettings, *, backend: BaseBackend | None = None
    ) -> Self:
        """The job for message ``pk``, just claimed with ``token`` (:meth:`ClaimedMessage.
        load`)."""
        return cls(ClaimedMessage.load(pk, token, conf, backend=backend))

    @property
    def msg(self) -> SmsMessage:
        return self.claim.msg

    def run(self) -> SmsMessage:
        """Send every pending order of the claimed message."""
        claim = self.claim
        veto = self.pre_send()
        if veto is not None:
            return veto
        pending = claim.pending_orders()
        for i, (order, numbers) in enumerate(pending):
            last = i == len(pending) - 1
            claim.hold_lease()
            outgoing = self.prepare_post(order, numbers)
            if isinstance(outgoing, SmsMessage):  # a last check ended it: nothing to POST
                return outgoing
            try:
                result = claim.backend.send(outgoing)
            except Exception as exc:
                outcome = self.after_failure(order, exc)
                if isinstance(outcome, SmsMessage):
                    return outcome
                result = outcome
            claim.accept(order, result, last=last)
        return self.record.succeed()

    def prepare_post(
        self, order: SmsOrder, numbers: tuple[str, ...]
    ) -> OutgoingOrder | SmsMessage:
        """The one place every POST passes through, sequential or batched, right before it
        goes out (the claim is ours and its lease covers the send): the last checks on
        what is about to be sent, then the :class:`OutgoingOrder`. A check that stops the
        send ends the message with one of the outcomes and returns it instead (nothing is
        POSTed). Checks that belong here: an expiry, a suppressed recipient, a recipient
        override."""
        return self.claim.outgoing(order, numbers)

    def after_failure(self, order: SmsOrder, exc: BaseException) -> SmsMessage | SendResult:
        """Act on a failed POST of ``order`` as :func:`~.decide.failure_verdict` says: the
        message as it ended (retry later, given up, unknown), or the gateway's answer when
        a look-up shows the order was accepted after all (the caller accepts it and goes
        on). The one rule for the sequential and the batched send."""
        claim, record = self.claim, self.record
        verdict = failure_verdict(exc, claim.msg.attempts)
        if verdict is Verdict.RETRY:
            return record.retry(exc)
        if verdict is Verdict.GIVE_UP:
            return record.give_up(describe_error(exc, claim.conf), exc)
        if verdict is Verdict.ASK_THEN_GIVE_UP:
            try:
                return claim.lookup(order)
            except OrderNotFound:
                return record.give_up(describe_error(exc, claim.conf), exc)
            except GatewayError as lookup_exc:
                return record.stay_unknown(lookup_exc)
        # Maybe sent: a MaybeSentError, or anything we did not expect (a bug after the
        # POST went out is exactly a "maybe sent").
        if not isinstance(exc, MaybeSentError):
            logger.error("Unexpected error sending SMS #%s", claim.msg.pk, exc_info=exc)
        record.unknown(exc)
        try:
            return claim.lookup(order)
        except OrderNotFound:
            return record.retry(exc)
        except Exception as lookup_exc:
            if not isinstance(lookup_exc, GatewayError):
                logger.exception("Unexpected error reconciling SMS #%s", claim.msg.pk)
            return record.stay_unknown(lookup_exc)

    def pre_send(self) -> SmsMessage | None:
        """Screen the recipients (:func:`django_smsrest.screening.screen`: suppression
        list, staging override, quiet hours; a message left with nobody ends CANCELLED),
        then fire ``pre_send``; a ``SendCancelled`` cancels the message (nothing is sent).
        Any other exception from a receiver puts the message back in the queue (it counts
        as an attempt) and is re-raised: it is a bug the developer must see.

        Two gates come first, before every POST, sequential or batched: a login code past
        its expiry ends EXPIRED (:func:`codes.before_post`), and the consent gate decides
        who the orders really go to (:func:`screening.screen`: suppressed recipients out,
        the staging override in); a message left with nobody ends CANCELLED unsent."""
        expired = codes.before_post(self.claim)
        if expired is not None:
            return expired
        claim = self.claim
        claim.screen = screening.screen(claim.msg, claim.loaded_orders, claim.conf)
        if claim.screen.nobody:
            return self.record.cancelled(claim.screen.nobody)
        for _receiver, response in signals.pre_send.send_robust(
            sender=SmsMessage, message=self.claim.msg
        ):
            if isinstance(response, SendCancelled):
                return self.record.cancelled(str(response.reason))
            if isinstance(response, Exception):
                self.record.retry(response)
                raise response
        return None
