"""Real concurrency: worker threads on separate PostgreSQL connections racing for rows.

Skipped on SQLite (an in-memory SQLite database is private to one connection; the
compare-and-set claim is shown there by calling ``send_message`` twice, see
``test_services.py``). Run with ``SMSREST_TEST_DB=postgres``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.conf import get_settings
from django_smsrest.models import OrderStatus, SmsMessage, SmsOrder, Status
from django_smsrest.testing import outbox as outbox_helpers

# The package's pytest fixture (an empty locmem outbox per test).
sms_outbox = outbox_helpers.sms_outbox

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (SMSREST_TEST_DB=postgres)"
    ),
]

A = "+393471234567"


def in_threads(n: int, target: Callable[[], Any]) -> list[Any]:
    """Run ``target`` in ``n`` threads released together; return results (or exceptions)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target()
        except BaseException as exc:  # reported by the caller
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.fixture(autouse=True)
def dummy_tasks() -> Any:
    """Tasks only recorded: in a transactional test there is no outer transaction, so the
    ImmediateBackend would send every queued message at once. The workers here do it."""
    from django_smsrest.testing.tasks import no_task_worker

    with no_task_worker:
        yield


@pytest.fixture
def slow_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every POST takes 50 ms: a wide window for a second worker to try the same row."""
    original = locmem.LocmemBackend.send

    def slow(self: Any, order: Any) -> Any:
        time.sleep(0.05)
        return original(self, order)

    monkeypatch.setattr(locmem.LocmemBackend, "send", slow)


def test_two_workers_racing_for_one_message_send_it_once(
    sms_outbox: list, slow_gateway: None
) -> None:
    msg = services.queue_sms("Hello", [A])  # committed (transactional test)
    results = in_threads(8, lambda: services.send_message(msg.pk))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].status == Status.SENT
    assert len(sms_outbox) == 1
    assert SmsMessage.objects.get(pk=msg.pk).attempts == 1


def test_concurrent_flushes_send_every_message_exactly_once(
    sms_outbox: list, slow_gateway: None
) -> None:
    for i in range(30):
        services.queue_sms(f"Message {i}", [A])
    assert SmsMessage.objects.filter(status=Status.QUEUED).count() == 30
    reports = in_threads(4, services.flush_queue)
    errors = [r for r in reports if isinstance(r, BaseException)]
    assert not errors, errors
    sent = sum(r.by_status[Status.SENT] for r in reports)
    assert sent == 30
    assert sum(r.skipped for r in reports) + sent == sum(r.attempted for r in reports)
    assert sorted(o.order_id for o in sms_outbox) == sorted(
        SmsMessage.objects.values_list("order_id", flat=True)
    )
    assert len({o.order_id for o in sms_outbox}) == 30


def test_a_stale_worker_cannot_overwrite_the_row_nor_cause_a_second_post(
    sms_outbox: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker 1 hangs in its POST past its lease; the sweeper declares the outcome unknown,
    finds no order at the gateway yet, and queues it again. Then worker 1's POST lands.
    Its message-level writes are refused (claim lost), but the accepted order is recorded,
    so the next claimant sends nothing and just finishes the message."""
    msg = services.queue_sms("Hello", [A])
    entered, release = threading.Event(), threading.Event()
    original = locmem.LocmemBackend.send

    def hanging(self: Any, order: Any) -> Any:
        entered.set()
        release.wait(10)
        return original(self, order)

    monkeypatch.setattr(locmem.LocmemBackend, "send", hanging)
    outcome: list[Any] = []
    worker = threading.Thread(
        target=lambda: (outcome.append(services.send_message(msg.pk)), connections.close_all())
    )
    worker.start()
    assert entered.wait(10)

    later = timezone.now() + timedelta(seconds=get_settings().lease_seconds + 1)
    report = services.sweep(now=later)
    assert report.expired_leases == 1 and report.reconciled == {Status.QUEUED: 1}
    release.set()
    worker.join(10)
    assert outcome and outcome[0].status == Status.QUEUED  # its SENT write was refused
    assert SmsOrder.objects.get(message=msg).status == OrderStatus.ACCEPTED

    monkeypatch.setattr(locmem.LocmemBackend, "send", original)
    SmsMessage.objects.filter(pk=msg.pk).update(next_attempt_at=None)
    final = services.send_message(msg.pk)
    assert final is not None and final.status == Status.SENT
    assert len(sms_outbox) == 1  # the one POST of the stale worker, never a second
