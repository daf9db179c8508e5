"""Exactly once whatever ``LEASE_SECONDS`` says: a POST starts only when the claim's lease
covers the worst case of that send, so the sweeper never takes over a message whose POST
may still reach the gateway.

The gateway is the sandbox over a real socket, set to accept a repeated ``order_id`` (it
answers 201 again: a gateway with no duplicate check would send twice) and to take
``ACCEPT_DELAY`` seconds before it acts on a ``POST sms`` (the other calls are answered at
once). ``LEASE_SECONDS`` is shorter than that and passes ``manage.py check``. Worker A
posts; meanwhile the sweep finds the lease over, asks ``GET sms/{order_id}`` before A's
POST was accepted (404) and re-queues the message, and worker B sends it: two POSTs of one
order, unless A's lease covered its send.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import override_settings

from django_smsrest import dispatch, services
from django_smsrest.backends.rest import reset_clients
from django_smsrest.conf import get_settings
from django_smsrest.models import SmsMessage, Status
from django_smsrest.sandbox.server import SandboxRequestHandler
from django_smsrest.testing import run_sandbox
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 1.0
ACCEPT_DELAY = 2.5
SWEEP_AT = LEASE + 0.3  # after the lease, before A's POST is accepted


@pytest.fixture
def slow_gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)  # no task worker
    route = SandboxRequestHandler._route

    def slow_to_accept(handler: SandboxRequestHandler, path: str, *args: Any) -> Any:
        if handler.command == "POST" and path.endswith("/sms"):
            time.sleep(ACCEPT_DELAY)
        return route(handler, path, *args)

    monkeypatch.setattr(SandboxRequestHandler, "_route", slow_to_accept)
    reset_clients()
    with run_sandbox(duplicate_order_id="accept") as sandbox:
        settings = {
            **SMSREST,
            **sandbox.smsrest_settings(),
            "BACKEND": "django_smsrest.backends.rest.RestBackend",
            "LEASE_SECONDS": LEASE,
            "TIMEOUT": (1.0, 5.0),
        }
        with override_settings(SMSREST=settings):
            yield sandbox
    reset_clients()


def _race(sandbox: Any, concurrency: int) -> int:
    """Worker A sends (in a thread); the sweep runs once A's claim is ``SWEEP_AT`` old;
    the number of POSTs the gateway received for the order."""
    msg = services.queue_sms("Ciao", ["+393471234567"])
    with override_settings(SMSREST={**settings.SMSREST, "CONCURRENCY": concurrency}):
        errors: list[BaseException] = []

        def worker_a() -> None:
            try:
                if concurrency == 1:
                    services.send_message(msg.pk)
                else:
                    services.flush_queue()
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
            finally:
                connections.close_all()

        a = threading.Thread(target=worker_a)
        a.start()
        deadline = time.monotonic() + 5
        while not SmsMessage.objects.filter(pk=msg.pk, status=Status.SENDING).exists():
            assert time.monotonic() < deadline, "worker A never claimed the message"
            time.sleep(0.02)
        time.sleep(SWEEP_AT)  # the scenario: the sweep comes after LEASE_SECONDS
        services.sweep()
        services.send_message(msg.pk, force=True)  # worker B, if the sweep re-queued it
        a.join(timeout=30)
        assert not a.is_alive() and not errors, errors
    msg.refresh_from_db()
    assert msg.status == Status.SENT, msg.last_error
    return int(sandbox.post_count(msg.order_id))


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_short_lease_never_posts_an_order_twice(slow_gateway: Any, concurrency: int) -> None:
    call_command("check")  # the configuration is accepted...
    assert _race(slow_gateway, concurrency) == 1  # ...and each order is posted once


@pytest.mark.parametrize("concurrency", [1, 8])
def test_without_the_lease_cover_the_order_is_posted_twice(
    slow_gateway: Any, concurrency: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above fails when the engine's margin is zero (what main did with a short
    lease): the scenario really reaches the gateway twice."""
    from django_smsrest.outbox import leases

    monkeypatch.setattr(leases, "send_cover", lambda backend: timedelta(0))
    assert _race(slow_gateway, concurrency) == 2


def test_the_rest_backend_bounds_a_send_by_its_client() -> None:
    """The worst case is the client's: three tries, each a login wait, a login and the
    request, every exchange bounded by connect + read."""
    from django_smsrest.backends import get_backend
    from django_smsrest.outbox import leases

    conf = {**SMSREST, "BACKEND": "django_smsrest.backends.rest.RestBackend"}
    with override_settings(SMSREST={**conf, "TIMEOUT": (1.0, 3.0), "LEASE_SECONDS": 1}):
        backend = get_backend(get_settings())
        assert backend.max_send_seconds() == 3 * 3 * 4.0
        # Covered: the worst case and a second; then a quarter of that to spare, so that
        # the check before each POST does not renew the lease before every one.
        assert leases.send_cover(backend) == timedelta(seconds=37)
        assert leases.send_lease(get_settings(), backend) == timedelta(seconds=37 * 1.25)


def test_a_call_waits_for_another_threads_login_one_exchange_at_most() -> None:
    """The wait for the shared login lock is part of the bound: past one exchange the call
    gives up before sending anything (surely not sent), so max_call_seconds holds."""
    from django_smsrest.client import SmsRestClient
    from django_smsrest.exceptions import GatewayConnectionError

    # A closed loopback port: nothing is reachable, should anything be sent at all.
    client = SmsRestClient("http://127.0.0.1:9/API/v1.0/REST/", "u", "p", timeout=(0.05, 0.1))
    raised: list[BaseException] = []

    def call() -> None:
        try:
            client.get_status()
        except BaseException as exc:
            raised.append(exc)

    with client._lock:  # another thread is logging in, and takes longer than an exchange
        caller = threading.Thread(target=call)
        started = time.monotonic()
        caller.start()
        caller.join(timeout=2)
        waited = time.monotonic() - started
        assert not caller.is_alive(), "the call waited for the login lock without bound"
    assert len(raised) == 1 and isinstance(raised[0], GatewayConnectionError), raised
    assert "nothing was sent" in str(raised[0]) and 0.15 <= waited < 2
    assert client.stats.total_requests == 0
