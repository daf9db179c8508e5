"""SmsRestClient against the real sandbox gateway over a loopback socket.

Unlike tests/test_client.py (HTTP mocked at the adapter), these run real TCP connections,
real keep-alive reuse, real timeouts and real dropped connections, and use the sandbox's
own counters as the witness that a POST was made exactly once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from django_smsrest.client import SmsRestClient
from django_smsrest.exceptions import (
    AuthenticationError,
    ConnectionDropped,
    GatewayRejected,
    GatewayServerError,
    GatewayTimeout,
    MaybeSentError,
    NotSentError,
    OrderNotFound,
    RateLimited,
)
from django_smsrest.results import DeliveryState

sandbox_helpers = pytest.importorskip(
    "django_smsrest.testing.sandbox",
    reason="django_smsrest.testing.sandbox (run_sandbox, smsrest_sandbox) is not available",
)
# Importing the fixture into this module registers it here, whatever way (plugin, conftest)
# the project chooses to expose it globally.
smsrest_sandbox = sandbox_helpers.smsrest_sandbox

NUMBER = "+393471234567"


def new_order_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def sandbox(smsrest_sandbox):
    """The sandbox with fast delivery steps; options changed here are put back after."""
    smsrest_sandbox.configure(step=0.05, session_idle=300.0)
    yield smsrest_sandbox
    smsrest_sandbox.configure(session_idle=300.0)


@pytest.fixture
def client(sandbox):
    c = SmsRestClient(sandbox.base_url, sandbox.username, sandbox.password, timeout=(2.0, 5.0))
    yield c
    c.close()


def test_login_send_get_order_cancel_and_status(sandbox, client):
    before = client.get_status()
    assert before.credits["N"] > 0
    assert before.money is not None

    order_id = new_order_id()
    result = client.send_sms(
        "Hello from the client test", [NUMBER], message_type="N", order_id=order_id
    )
    assert result.order_id == order_id
    assert result.total_sent == 1
    assert result.remaining_credits == before.credits["N"] - 1

    order = client.get_order(order_id)
    assert [r.destination for r in order.recipients] == [NUMBER]
    assert order.recipients[0].state in {
        DeliveryState.WAITING,
        DeliveryState.SENT,
        DeliveryState.WAIT4DLVR,
        DeliveryState.DLVRD,
    }

    scheduled_id = new_order_id()
    client.send_sms(
        "Later",
        [NUMBER],
        message_type="N",
        order_id=scheduled_id,
        scheduled_delivery_time=datetime.now(UTC) + timedelta(hours=1),
    )
    assert client.get_order(scheduled_id).recipients[0].state is DeliveryState.SCHEDULED
    client.cancel(scheduled_id)
    with pytest.raises(OrderNotFound):
        client.get_order(scheduled_id)
    with pytest.raises(OrderNotFound):
        client.cancel(scheduled_id)
    # The immediate order is past SCHEDULED: not cancellable.
    with pytest.raises(OrderNotFound, match="cancellable"):
        client.cancel(order_id)

    after = client.get_status()
    assert after.credits["N"] == before.credits["N"] - 1  # the cancelled order was refunded

    assert client.stats.logins == 1  # one login for the whole conversation
    assert sandbox.post_count(order_id) == 1


def test_delivery_reaches_a_final_state_with_a_date(sandbox, client):
    order_id = new_order_id()
    client.send_sms("Track me", [NUMBER], message_type="N", order_id=order_id)
    deadline = time.monotonic() + 10
    state = client.get_order(order_id).recipients[0]
    while state.state is not DeliveryState.DLVRD and time.monotonic() < deadline:
        time.sleep(0.05)
        state = client.get_order(order_id).recipients[0]
    assert state.state is DeliveryState.DLVRD
    assert state.delivery_date is not None and state.delivery_date.tzinfo is not None
    assert abs(state.delivery_date - datetime.now(UTC)) < timedelta(minutes=5)


def test_token_auth_and_basic_auth_login(sandbox):
    token_client = SmsRestClient(
        sandbox.base_url, sandbox.username, sandbox.password, auth="token"
    )
    order_id = new_order_id()
    token_client.send_sms("Token", [NUMBER], message_type="N", order_id=order_id)
    assert token_client.get_order(order_id).order_id == order_id

    basic_client = SmsRestClient(
        sandbox.base_url, sandbox.username, sandbox.password, login_with_basic_auth=True
    )
    basic_client.login()
    assert basic_client.get_status().credits


def test_expired_session_is_renewed_transparently(sandbox, client):
    sandbox.configure(session_idle=0.3)
    client.get_status()
    time.sleep(0.6)  # past the sandbox's idle limit (not an assertion on time)
    client.get_status()
    assert client.stats.logins == 2
    assert client.stats.count("GET", "status") == 3  # one refused with 401, then repeated


def test_expired_session_during_a_send_does_not_duplicate_the_order(sandbox, client):
    client.login()
    sandbox.configure(expire_sessions=True)
    order_id = new_order_id()
    client.send_sms("After expiry", [NUMBER], message_type="N", order_id=order_id)
    assert client.stats.logins == 2
    # Two POSTs carried the order_id (the first one refused with 401), one order exists.
    assert sandbox.post_count(order_id) == 2
    assert [o for o in sandbox.orders() if o["order_id"] == order_id]
    assert client.get_order(order_id).order_id == order_id


def test_threads_after_expiry_log_in_once(sandbox, client):
    client.login()
    sandbox.configure(expire_sessions=True)
    errors: list[BaseException] = []
    order_ids = [new_order_id() for _ in range(8)]

    def worker(order_id: str) -> None:
        try:
            client.send_sms("Concurrent", [NUMBER], message_type="N", order_id=order_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(oid,)) for oid in order_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert client.stats.logins == 2
    assert all(sandbox.post_count(oid) in (1, 2) for oid in order_ids)
    for oid in order_ids:
        assert client.get_order(oid).order_id == oid


def test_500_after_acceptance_is_maybe_sent_and_not_reposted(sandbox, client):
    client.login()
    sandbox.configure(error_after_next=1)
    order_id = new_order_id()
    with pytest.raises(GatewayServerError) as info:
        client.send_sms("Accepted then 500", [NUMBER], message_type="N", order_id=order_id)
    assert isinstance(info.value, MaybeSentError)
    assert info.value.status_code == 500
    # Reconciliation: the order exists, so it must not be sent again.
    assert client.get_order(order_id).order_id == order_id
    assert sandbox.post_count(order_id) == 1
    assert client.stats.count("POST", "sms") == 1


def test_read_timeout_after_acceptance(sandbox):
    sandbox.configure(timeout_after_next=1, timeout_seconds=3)
    client = SmsRestClient(sandbox.base_url, sandbox.username, sandbox.password, timeout=(2, 0.5))
    client.login()
    order_id = new_order_id()
    with pytest.raises(GatewayTimeout) as info:
        client.send_sms("Accepted, no answer", [NUMBER], message_type="N", order_id=order_id)
    assert isinstance(info.value, MaybeSentError)
    assert client.get_order(order_id).order_id == order_id
    assert sandbox.post_count(order_id) == 1


def test_dropped_connection_after_acceptance(sandbox, client):
    client.login()
    sandbox.configure(drop_after_next=1)
    order_id = new_order_id()
    with pytest.raises(ConnectionDropped) as info:
        client.send_sms("Accepted, dropped", [NUMBER], message_type="N", order_id=order_id)
    assert isinstance(info.value, MaybeSentError)
    assert client.get_order(order_id).order_id == order_id
    assert sandbox.post_count(order_id) == 1
    # The client recovers on a fresh connection.
    assert client.get_status().credits


def test_rate_limit(sandbox, client):
    client.login()
    sandbox.configure(rate_limit_next=1, retry_after=7)
    order_id = new_order_id()
    with pytest.raises(RateLimited) as info:
        client.send_sms("Too fast", [NUMBER], message_type="N", order_id=order_id)
    assert isinstance(info.value, NotSentError)
    assert info.value.retry_after == 7
    with pytest.raises(OrderNotFound):
        client.get_order(order_id)


def test_invalid_request_is_rejected_with_the_gateways_reason(sandbox, client):
    order_id = new_order_id()
    with pytest.raises(GatewayRejected) as info:
        client.send_sms("x" * 2000, [NUMBER], message_type="N", order_id=order_id)
    assert isinstance(info.value, NotSentError)
    assert info.value.detail  # the sandbox's error_message, passed through
    with pytest.raises(OrderNotFound):
        client.get_order(order_id)


def test_wrong_password_is_an_authentication_error_without_the_password(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-" + uuid.uuid4().hex
    client = SmsRestClient(sandbox.base_url, sandbox.username, wrong)
    with pytest.raises(AuthenticationError) as info:
        client.send_sms("Never", [NUMBER], message_type="N")
    error = info.value
    assert "refused the username/password" in str(error)
    for text in (str(error), repr(error), repr(error.args)):
        assert wrong not in text
        assert "password=" not in text
    assert error.__cause__ is None and error.__context__ is None
    everything = "\n".join(record.getMessage() for record in caplog.records)
    assert wrong not in everything  # urllib3's DEBUG request line included
    assert client.stats.count("POST", "sms") == 0


def test_debug_logs_of_a_real_login_carry_no_secret(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    client = SmsRestClient(sandbox.base_url, sandbox.username, sandbox.password)
    client.login()
    client.get_status()
    keys = client._keys
    everything = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET login -> 200" in everything
    assert f"password={sandbox.password}" not in everything
    assert keys.auth_key.reveal() not in everything


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_its_own_connection_and_keeps_the_keys(sandbox, client):
    client.get_status()  # logged in, one pooled keep-alive connection in this process
    parent_session = client._session()
    context = multiprocessing.get_context("fork")

    def child() -> None:
        ok = client._session() is not parent_session
        status = client.get_status()  # must not write on the parent's socket
        ok = ok and bool(status.credits) and client.stats.logins == 1  # keys inherited
        os._exit(0 if ok else 1)

    process = context.Process(target=child)
    process.start()
    process.join(timeout=20)
    assert process.exitcode == 0
    assert client.get_status().credits  # the parent's connection is still usable
    assert client._session() is parent_session
