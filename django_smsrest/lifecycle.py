"""Every status of a message and an order, and every move between them: the one table
that the services, the outbox, the admin, the command and the views ask.

A message's life (``SmsMessage.status``)::

    QUEUED -> SENDING -> SENT | SCHEDULED -> DELIVERED | PARTIALLY_DELIVERED | UNDELIVERED
       ^         |  \\-> FAILED        SCHEDULED -> SENT (the gateway started sending)
       |         v                     SCHEDULED -> CANCELLED (cancel())
       +---- UNKNOWN  (reconciled by GET sms/{order_id}: found -> accepted, 404 -> QUEUED)
    QUEUED -> CANCELLED (cancel(), or a pre_send receiver raising SendCancelled)
    QUEUED | SENDING -> EXPIRED (a login code past its expires_at: never POSTed; codes.py)

States only move forward: a final message is never reopened (a resend is a new row), and a
recipient's delivery state only climbs :data:`DELIVERY_RANK`, so a late or repeated status
answer cannot undo a newer one. The outbox checks every status write against
:data:`TRANSITIONS` (:func:`check_transition`); a write that is not in the table is a bug.

An order (one ``POST``, ``SmsOrder.status``) is PENDING until answered, then ACCEPTED or
REJECTED; CANCELLED from PENDING (the message was vetoed or cancelled before its POST) or
from ACCEPTED (``DELETE sms/{id}`` while scheduled). Each such write is a conditional
``UPDATE ... WHERE status = <the status it leaves>`` where it is made, so no table is
checked for them here.

Plain Python over the model's choices: no queries, no settings.
"""

from __future__ import annotations

from collections.abc import Mapping

from django_smsrest.models import Status
from django_smsrest.results import FAILURE_STATES, FINAL_STATES, DeliveryState

__all__ = [
    "CANCELLABLE",
    "DELIVERY_RANK",
    "FAILED_OUTCOMES",
    "FINAL",
    "IN_FLIGHT",
    "POLLABLE",
    "RECONCILABLE",
    "REFRESHABLE",
    "RESENDABLE",
    "SENDABLE",
    "TRANSITIONS",
    "IllegalTransition",
    "check_transition",
    "delivery_moves_forward",
    "open_count",
    "summarize",
]

# --- message statuses ---------------------------------------------------------------------

#: Nothing will happen to the message any more.
FINAL = frozenset(
    {
        Status.DELIVERED,
        Status.PARTIALLY_DELIVERED,
        Status.UNDELIVERED,
        Status.FAILED,
        Status.CANCELLED,
        Status.EXPIRED,
    }
)
#: A worker has it or may take it at any moment: a resend or a cancel would race it.
IN_FLIGHT = frozenset({Status.QUEUED, Status.SENDING, Status.UNKNOWN})
#: "Send now" applies (a worker claims it from here).
SENDABLE = frozenset({Status.QUEUED})
#: Accepted and unfinished: its delivery status can be polled (``GET sms/{order_id}``).
POLLABLE = frozenset({Status.SENT, Status.SCHEDULED})
#: The outcome of a POST is unknown: ask the gateway before anything is sent again.
RECONCILABLE = frozenset({Status.UNKNOWN})
#: What a person's "Refresh" does something for: poll a delivery status, or reconcile.
REFRESHABLE = POLLABLE | RECONCILABLE
#: A cancel can still stop it (locally while queued, ``DELETE sms/{id}`` while scheduled).
CANCELLABLE = frozenset({Status.QUEUED, Status.SCHEDULED})
#: A resend makes a new, linked message; refused while this one may still go out.
RESENDABLE = frozenset(Status) - IN_FLIGHT - {Status.SCHEDULED}
#: The outcomes a person reads as "this did not reach anyone".
FAILED_OUTCOMES = frozenset({Status.FAILED, Status.UNDELIVERED, Status.EXPIRED})

#: Every move a message's status may make; anything else is a bug.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.SENDING, Status.CANCELLED, Status.EXPIRED}),
    Status.SENDING: frozenset(
        {
            Status.QUEUED,  # surely not sent: retry later
            Status.UNKNOWN,  # maybe sent: reconcile
            Status.SENT,
            Status.SCHEDULED,
            Status.FAILED,
            Status.CANCELLED,  # a pre_send receiver vetoed it
            Status.EXPIRED,  # a login code whose time ran out before its POST
        }
    ),
    Status.UNKNOWN: frozenset(
        {Status.QUEUED, Status.SENDING, Status.SENT, Status.SCHEDULED, Status.FAILED}
    ),
    Status.SCHEDULED: frozenset(
        {
            Status.SENT,
            Status.CANCELLED,
            Status.DELIVERED,
            Status.PARTIALLY_DELIVERED,
            Status.UNDELIVERED,
        }
    ),
    Status.SENT: frozenset({Status.DELIVERED, Status.PARTIALLY_DELIVERED, Status.UNDELIVERED}),
    **{status: frozenset() for status in FINAL},
}


class IllegalTransition(Exception):
    """A status write that :data:`TRANSITIONS` does not allow: a bug, never user input."""


def check_transition(old: str, new: str) -> None:
    """Raise :class:`IllegalTransition` unless ``old -> new`` is in the table (staying in
    the same status is always allowed: a write that only records progress)."""
    if old != new and Status(new) not in TRANSITIONS[Status(old)]:
        raise IllegalTransition(f"a message cannot move from {old} to {new}")


# --- delivery states ----------------------------------------------------------------------

#: The order in which a recipient's states follow each other; final states share the top.
DELIVERY_RANK: Mapping[DeliveryState, int] = {
    DeliveryState.UNKNOWN: 0,
    DeliveryState.SCHEDULED: 1,
    DeliveryState.WAITING: 2,
    DeliveryState.SENT: 3,
    DeliveryState.WAIT4DLVR: 4,
    **{state: 10 for state in FINAL_STATES},
}


def delivery_moves_forward(
    old: DeliveryState | None,
    new: DeliveryState,
    *,
    delivery_report: bool,
    dated: bool = False,
) -> bool:
    """Whether a reported state ``new`` may replace the recorded ``old``: never after a
    final one, otherwise only up the ranks. ``dated``: the same state arrives with the
    delivery date that was missing (recorded without changing the state)."""
    if old is None:
        return True
    if old.is_final(delivery_report=delivery_report):
        return False
    return DELIVERY_RANK[new] > DELIVERY_RANK[old] or (new is old and dated)


def summarize(
    counts: Mapping[str, int], total: int, delivery_report: bool
) -> tuple[Status | None, bool]:
    """The message status its recipients' states add up to: ``(status or None to keep
    it, whether every recipient is final)``. ``counts`` maps a wire state to how many
    recipients are in it; ``total`` is the number of recipients. Suppressed recipients
    (skipped, never posted) do not count: the status is about those it was sent to."""
    total -= counts.get(DeliveryState.SUPPRESSED, 0)
    final = delivered = failed = started = 0
    for value, n in counts.items():
        state = DeliveryState.parse(value) if value else None
        if state is None or state in (DeliveryState.UNKNOWN, DeliveryState.SUPPRESSED):
            continue
        if state is not DeliveryState.SCHEDULED:
            started += n
        if state.is_final(delivery_report=delivery_report):
            final += n
        if state is DeliveryState.DLVRD:
            delivered += n
        if state in FAILURE_STATES:
            failed += n
    if final < total:
        return (Status.SENT if started else None), False
    if failed == total:
        return Status.UNDELIVERED, True
    if delivered == total:
        return Status.DELIVERED, True
    if failed:
        return Status.PARTIALLY_DELIVERED, True
    return Status.SENT, True  # final without delivery reports (SENT/DEMO)


def open_count(counts: Mapping[str, int], total: int, delivery_report: bool) -> int:
    """How many of ``total`` recipients have no final state yet (a suppressed one is
    final: it will never get a report)."""
    final = sum(
        n
        for value, n in counts.items()
        if value and DeliveryState.parse(value).is_final(delivery_report=delivery_report)
    )
    return total - final
