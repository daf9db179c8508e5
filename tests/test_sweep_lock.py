"""A long sweep: it stops when its lock was taken over, and each claim it takes gets a lease
counted from when it is taken, not from when the sweep began."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.exceptions import OrderNotFound
from django_smsrest.models import OutboxLock, SmsMessage, Status
from django_smsrest.testing.outbox import sms_outbox  # noqa: F401 (fixture)
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 0.6


@pytest.fixture(autouse=True)
def _no_task_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_smsrest import dispatch

    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)


def _unknown(n: int) -> list[int]:
    pks = [services.queue_sms(f"n{i}", ["+393471234567"]).pk for i in range(n)]
    SmsMessage.objects.filter(pk__in=pks).update(status=Status.UNKNOWN, next_attempt_at=None)
    return pks


def _slow_lookups(monkeypatch: pytest.MonkeyPatch, on_lookup: Any) -> list[int]:
    """Every ``GET sms/{order_id}`` takes longer than the lease, then answers 404."""
    seen: list[int] = []

    def get_order(self: locmem.LocmemBackend, order_id: str) -> Any:
        msg = SmsMessage.objects.get(orders__order_id=order_id)
        seen.append(msg.pk)
        on_lookup(msg)
        time.sleep(LEASE + 0.1)
        raise OrderNotFound("no such order", status_code=404)

    monkeypatch.setattr(locmem.LocmemBackend, "get_order", get_order)
    return seen


@override_settings(SMSREST={**SMSREST, "LEASE_SECONDS": LEASE})
def test_a_sweep_stops_when_another_took_its_lock(
    sms_outbox: list,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pks = _unknown(3)

    def steal(msg: SmsMessage) -> None:
        # While this sweep is stalled past its lock, another sweep takes the lock.
        OutboxLock.objects.filter(name="sweep").update(token="other", held_until=None)

    seen = _slow_lookups(monkeypatch, steal)
    report = services.sweep()

    assert seen == pks[:1]  # it noticed before the next claim and stopped
    assert report.busy and sum(report.reconciled.values()) == 1
    assert OutboxLock.objects.get(name="sweep").token == "other"  # not released by us


@override_settings(SMSREST={**SMSREST, "LEASE_SECONDS": LEASE})
def test_each_claim_of_a_sweep_gets_a_lease_from_its_own_time(
    sms_outbox: list,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _unknown(2)
    leases_left: list[float] = []

    def measure(msg: SmsMessage) -> None:
        leases_left.append((msg.lease_until - timezone.now()).total_seconds())

    _slow_lookups(monkeypatch, measure)
    report = services.sweep()

    assert report.reconciled == {Status.QUEUED: 2}
    # The second claim came LEASE + 0.1 s into the sweep: its lease still lies ahead.
    assert len(leases_left) == 2 and min(leases_left) > 0, leases_left
