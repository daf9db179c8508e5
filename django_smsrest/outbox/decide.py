"""What a gateway's answer means for a message: pure decisions, no I/O. The send job
(:class:`~django_smsrest.outbox.job.Job`) and the batched flush act on them; the endings
are recorded by :class:`~django_smsrest.outbox.outcomes.Outcomes`."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

from django_smsrest.conf import SmsRestSettings
from django_smsrest.exceptions import GatewayRejected, NotSentError
from django_smsrest.models import SmsMessage, Status


class Verdict(enum.Enum):
    """What a failed POST means."""

    #: Surely not sent, worth another try later (backoff on the row).
    RETRY = "retry"
    #: Surely not sent, and trying again would not help (a 400, a refused login).
    GIVE_UP = "give up"
    #: Refused, but an earlier attempt may have gone out after all: ask the gateway
    #: (found: sent; not found: give up).
    ASK_THEN_GIVE_UP = "ask, then give up"
    #: Maybe sent (timeout, 5xx, dropped connection, anything unexpected): mark it unknown,
    #: ask the gateway (found: sent; not found: retry). Never resent without asking.
    ASK_THEN_RETRY = "ask, then retry"


def failure_verdict(exc: BaseException, attempts: int) -> Verdict:
    """The one rule for a failed POST, on attempt number ``attempts`` of the message."""
    if not isinstance(exc, NotSentError):
        return Verdict.ASK_THEN_RETRY
    if exc.retryable:
        return Verdict.RETRY
    if isinstance(exc, GatewayRejected) and attempts > 1:
        # An earlier attempt's answer was lost, the check came before the gateway had
        # registered the order, and a gateway that refuses a repeated order_id now says so
        # with a 400. Ask before failing a message that was in fact sent.
        return Verdict.ASK_THEN_GIVE_UP
    return Verdict.GIVE_UP


def sent_fields(msg: SmsMessage, conf: SmsRestSettings, now: datetime) -> dict[str, Any]:
    """What a message whose every order was accepted becomes: SENT, or SCHEDULED while
    the delivery time is ahead, its first status check planned, its claim released. The
    one decision for the sequential and the batched send (:func:`~django_smsrest.outbox.
    batch_rows.write_accepted` writes it for many messages at once)."""
    when = msg.scheduled_delivery_time
    # Delivery can only start at the scheduled time: the first status check waits for it.
    if when is not None and when > now:
        status, start = Status.SCHEDULED, when
    else:
        status, start = Status.SENT, now
    return {
        "status": str(status),
        "claim_token": "",
        "lease_until": None,
        "next_attempt_at": None,
        "next_status_check_at": start + timedelta(seconds=conf.status_poll_base_seconds),
        "status_checks": 0,
        "last_error": "",
    }
