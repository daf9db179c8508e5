"""A worker that outlives its lease never posts an order a second time, and never marks
what the worker that took over is sending.

The gateway here is the locmem backend, which (unlike the sandbox by default) accepts a
repeated ``order_id`` and records a second POST: a gateway with no duplicate check of its
own. Worker A stalls for longer than its lease before its first POST; meanwhile the sweeper
moves the row to UNKNOWN, reconciles it (404: never sent) and worker B sends both orders.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.test import override_settings
from django.utils import timezone

from django_smsrest import dispatch, services, signals
from django_smsrest.backends import locmem
from django_smsrest.exceptions import GatewayRejected
from django_smsrest.models import OrderStatus, SmsMessage, Status
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db

LEASE = 1.0
STALLED = {
    **SMSREST,
    "LEASE_SECONDS": LEASE,
    "TIMEOUT": [0.05, 0.05],
    "MAX_RECIPIENTS_PER_ORDER": 1,
    "RETRY_BASE_SECONDS": 0.01,
    "RETRY_MAX_SECONDS": 0.01,
}
NUMBERS = ["+393471234567", "+393471234568"]


@pytest.fixture(autouse=True)
def _gateway(monkeypatch: pytest.MonkeyPatch):
    locmem.reset()
    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)  # no task worker
    with override_settings(SMSREST=STALLED):
        yield
    locmem.reset()


def _take_over(pk: int) -> SmsMessage | None:
    """What the rest of the deployment does while A is stalled: the sweep expires A's
    lease and reconciles (nothing found: QUEUED), then worker B sends the message."""
    report = services.sweep()
    assert report.expired_leases == 1
    assert report.reconciled == {Status.QUEUED: 1}
    return services.send_message(pk, force=True)


def _posts_per_order() -> Counter[str]:
    return Counter(order.order_id for order in locmem.outbox)


def test_a_stalled_worker_does_not_post_again_after_a_takeover() -> None:
    msg = services.queue_sms("Ciao", NUMBERS)
    stalls = []

    def stall(sender, message, **kwargs):
        if not stalls:  # worker A only
            stalls.append(message.pk)
            # A stalls past its lease (LEASE_SECONDS, or the worst case of a send if longer)...
            time.sleep((message.lease_until - timezone.now()).total_seconds() + 0.2)
            taken = _take_over(message.pk)  # ...and B sends meanwhile
            assert taken is not None and taken.status == Status.SENT

    signals.pre_send.connect(stall)
    try:
        result = services.send_message(msg.pk)  # worker A
    finally:
        signals.pre_send.disconnect(stall)

    assert stalls == [msg.pk]
    posts = _posts_per_order()
    assert sorted(posts.values()) == [1, 1], f"an order was posted twice: {posts}"
    assert set(msg.orders.values_list("status", flat=True)) == {OrderStatus.ACCEPTED}
    assert result is not None and result.status == Status.SENT


def test_a_worker_that_lost_its_claim_marks_no_order_or_recipient() -> None:
    """A's POST was refused for good after B took the row over and while B is sending the
    other order: A's give_up() must not mark B's pending order REJECTED (nor its recipients
    ERROR); it learns it lost the claim and stops."""
    from django.utils import timezone

    from django_smsrest.conf import get_settings
    from django_smsrest.outbox import Job, LostClaim, claim

    msg = services.queue_sms("Ciao", NUMBERS)
    conf = get_settings()
    token_a = claim(msg.pk, timezone.now(), conf, sending=True, status=Status.QUEUED)
    assert token_a is not None
    job_a = Job.load(msg.pk, token_a, conf)
    job_a.claim.pending_orders()
    first = msg.orders.get(index=0)
    sent = locmem.LocmemBackend(conf).send(job_a.claim.outgoing(first, (NUMBERS[0],)))
    job_a.claim.accept(first, sent, last=True)
    # B takes the row over (A's lease expired) and is now sending order 1.
    SmsMessage.objects.filter(pk=msg.pk).update(claim_token="b" * 32)

    with pytest.raises(LostClaim):
        job_a.record.give_up(
            "sender not allowed", GatewayRejected("sender not allowed", status_code=400)
        )

    assert msg.orders.get(index=1).status == OrderStatus.PENDING
    assert not msg.recipients.filter(state="ERROR").exists()
    msg.refresh_from_db()
    assert msg.claim_token == "b" * 32 and msg.status == Status.SENDING
