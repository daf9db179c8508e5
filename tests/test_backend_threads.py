"""``thread_safe``: a backend that does not declare it is called from one thread, one
request at a time, whatever ``CONCURRENCY`` says; a database connection a pool thread
opened is closed."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from django.db import connections
from django.test import override_settings

from django_smsrest import dispatch, services
from django_smsrest.backends import BaseBackend, OutgoingOrder, locmem
from django_smsrest.models import SmsMessage, Status
from django_smsrest.results import AccountStatus, SendResult
from django_smsrest.testing.outbox import sms_outbox  # noqa: F401 (fixture)
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db(transaction=True)


class Plain(BaseBackend):
    """A custom backend as a project would write it: no ``thread_safe`` declared."""

    threads: set[int] = set()
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def send(self, order: OutgoingOrder) -> SendResult:
        cls = type(self)
        with cls.lock:
            cls.threads.add(threading.get_ident())
            cls.in_flight += 1
            cls.peak = max(cls.peak, cls.in_flight)
        try:
            threading.Event().wait(0.01)  # long enough for others to overlap, if allowed
            return SendResult(order_id=order.order_id, total_sent=len(order.recipients))
        finally:
            with cls.lock:
                cls.in_flight -= 1

    def get_status(self) -> AccountStatus:
        raise NotImplementedError


class UsesTheOrm(locmem.LocmemBackend):
    """Thread-safe, and reads the database in send(): each pool thread opens a connection."""

    opened: list[Any] = []

    def send(self, order: OutgoingOrder) -> SendResult:
        SmsMessage.objects.filter(order_id=order.order_id).exists()
        type(self).opened.append(connections["default"])
        return super().send(order)


@pytest.fixture(autouse=True)
def _no_task_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)


def test_a_backend_not_declared_thread_safe_is_called_from_one_thread(
    sms_outbox: list,  # noqa: F811
) -> None:
    Plain.threads.clear()
    Plain.peak = 0
    for i in range(12):
        services.queue_sms(f"n{i}", ["+393471234567"])
    backend = f"{__name__}.Plain"
    with override_settings(SMSREST={**SMSREST, "CONCURRENCY": 4, "BACKEND": backend}):
        report = services.flush_queue()
    assert report.by_status == {Status.SENT: 12}
    assert Plain.threads == {threading.get_ident()}  # the flush's own thread
    assert Plain.peak == 1


def test_builtin_backends_declare_it() -> None:
    from django_smsrest.backends.console import ConsoleBackend
    from django_smsrest.backends.rest import RestBackend

    assert RestBackend.thread_safe and locmem.LocmemBackend.thread_safe
    assert ConsoleBackend.thread_safe and not BaseBackend.thread_safe


@pytest.mark.skipif(
    os.environ.get("SMSREST_TEST_DB") != "postgres",
    reason="an in-memory SQLite connection is never closed by Django (PostgreSQL only)",
)
def test_connections_a_pool_thread_opened_are_closed(sms_outbox: list) -> None:  # noqa: F811
    UsesTheOrm.opened.clear()
    for i in range(8):
        services.queue_sms(f"n{i}", ["+393471234567"])
    backend = f"{__name__}.UsesTheOrm"
    with override_settings(SMSREST={**SMSREST, "CONCURRENCY": 4, "BACKEND": backend}):
        assert services.flush_queue().by_status == {Status.SENT: 8}
    assert len(UsesTheOrm.opened) == 8
    assert connections["default"] not in UsesTheOrm.opened  # theirs, not the flush's
    assert all(connection.connection is None for connection in UsesTheOrm.opened)
