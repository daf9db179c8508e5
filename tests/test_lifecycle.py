"""The one table of states: every pair of statuses, every pair of delivery states."""

from __future__ import annotations

import itertools

import pytest

from django_smsrest import lifecycle
from django_smsrest.conf import get_settings
from django_smsrest.lifecycle import IllegalTransition, check_transition
from django_smsrest.models import SmsMessage, Status
from django_smsrest.outbox import ClaimedMessage
from django_smsrest.results import FINAL_STATES, DeliveryState

ALLOWED = {
    (Status.QUEUED, Status.SENDING),
    (Status.QUEUED, Status.CANCELLED),
    (Status.QUEUED, Status.EXPIRED),  # a login code past its expiry (codes.py)
    (Status.SENDING, Status.EXPIRED),
    (Status.SENDING, Status.QUEUED),
    (Status.SENDING, Status.UNKNOWN),
    (Status.SENDING, Status.SENT),
    (Status.SENDING, Status.SCHEDULED),
    (Status.SENDING, Status.FAILED),
    (Status.SENDING, Status.CANCELLED),
    (Status.UNKNOWN, Status.QUEUED),
    (Status.UNKNOWN, Status.SENDING),
    (Status.UNKNOWN, Status.SENT),
    (Status.UNKNOWN, Status.SCHEDULED),
    (Status.UNKNOWN, Status.FAILED),
    (Status.SCHEDULED, Status.SENT),
    (Status.SCHEDULED, Status.CANCELLED),
    (Status.SCHEDULED, Status.DELIVERED),
    (Status.SCHEDULED, Status.PARTIALLY_DELIVERED),
    (Status.SCHEDULED, Status.UNDELIVERED),
    (Status.SENT, Status.DELIVERED),
    (Status.SENT, Status.PARTIALLY_DELIVERED),
    (Status.SENT, Status.UNDELIVERED),
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(Status, Status)))
def test_every_transition(old: Status, new: Status) -> None:
    if old == new or (old, new) in ALLOWED:
        check_transition(old, new)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(old, new)


def test_final_statuses_have_no_way_out_and_every_status_is_in_the_table() -> None:
    assert set(lifecycle.TRANSITIONS) == set(Status)
    for status in lifecycle.FINAL:
        assert lifecycle.TRANSITIONS[status] == frozenset()
    # No set names a status that cannot be reached from QUEUED.
    reachable, frontier = {Status.QUEUED}, [Status.QUEUED]
    while frontier:
        for nxt in lifecycle.TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(Status)


def test_the_sets_agree_with_each_other() -> None:
    assert not lifecycle.RESENDABLE & lifecycle.IN_FLIGHT
    assert Status.SCHEDULED not in lifecycle.RESENDABLE
    assert lifecycle.FINAL <= lifecycle.RESENDABLE
    assert lifecycle.REFRESHABLE == lifecycle.POLLABLE | lifecycle.RECONCILABLE
    assert not lifecycle.CANCELLABLE & lifecycle.FINAL
    assert lifecycle.FAILED_OUTCOMES <= lifecycle.FINAL


@pytest.mark.parametrize(
    ("old", "new"), list(itertools.product([None, *DeliveryState], DeliveryState))
)
@pytest.mark.parametrize("delivery_report", [True, False])
def test_delivery_states_only_move_forward(
    old: DeliveryState | None, new: DeliveryState, delivery_report: bool
) -> None:
    moves = lifecycle.delivery_moves_forward(old, new, delivery_report=delivery_report)
    if old is None:
        assert moves
    elif old.is_final(delivery_report=delivery_report):
        assert not moves, "a final state never changes"
    else:
        assert moves == (lifecycle.DELIVERY_RANK[new] > lifecycle.DELIVERY_RANK[old])


def test_a_missing_delivery_date_may_be_filled_in_without_moving() -> None:
    wait = DeliveryState.WAIT4DLVR
    assert lifecycle.delivery_moves_forward(wait, wait, delivery_report=True, dated=True)
    assert not lifecycle.delivery_moves_forward(wait, wait, delivery_report=True)
    for final in FINAL_STATES:
        assert not lifecycle.delivery_moves_forward(final, final, delivery_report=True, dated=True)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"DLVRD": 2}, (Status.DELIVERED, True)),
        ({"DLVRD": 1, "ERROR": 1}, (Status.PARTIALLY_DELIVERED, True)),
        ({"ERROR": 1, "BLACKLISTED": 1}, (Status.UNDELIVERED, True)),
        ({"DLVRD": 1, "WAIT4DLVR": 1}, (Status.SENT, False)),
        ({"SCHEDULED": 2}, (None, False)),
        ({"": 2}, (None, False)),
    ],
)
def test_summarize(counts: dict[str, int], expected: tuple[Status | None, bool]) -> None:
    assert lifecycle.summarize(counts, 2, True) == expected


@pytest.mark.django_db
def test_the_outbox_refuses_a_write_the_table_does_not_allow() -> None:
    msg = SmsMessage.objects.create(
        message="x", message_type="N", status=Status.DELIVERED, claim_token="t"
    )
    job = ClaimedMessage(msg, "t", get_settings())
    with pytest.raises(IllegalTransition):
        job.release(Status.QUEUED)
    msg.refresh_from_db()
    assert msg.status == Status.DELIVERED
