"""End to end: services -> REST backend -> real HTTP over loopback -> the sandbox gateway."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import rest
from django_smsrest.models import Status
from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db

A, B = "+393471234567", "+393471234568"
FAILS = "+393470000001"  # a sandbox test number: ends UNKNRCPT


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    rest.reset_clients()
    with run_sandbox(step=0.05, seed=1) as server:
        settings = {
            **SMSREST,
            **server.smsrest_settings(),
            "BACKEND": "django_smsrest.backends.rest.RestBackend",
            "TIMEOUT": (2.0, 1.0),
        }
        with override_settings(SMSREST=settings):
            yield server
    rest.reset_clients()


def test_send_then_refresh_to_delivered(sandbox: SandboxServer) -> None:
    msg = services.send_sms("Ciao dal sandbox", [A, B])
    assert msg.status == Status.SENT and msg.total_sent == 2
    assert msg.remaining_credits is not None
    assert sandbox.post_count(msg.order_id) == 1
    sandbox.advance(60)
    msg = services.refresh_status(msg)
    assert msg.status == Status.DELIVERED
    assert set(msg.recipients.values_list("state", flat=True)) == {"DLVRD"}


def test_partial_delivery(sandbox: SandboxServer) -> None:
    msg = services.send_sms("Hello", [A, FAILS])
    sandbox.advance(60)
    msg = services.refresh_status(msg)
    assert msg.status == Status.PARTIALLY_DELIVERED
    assert dict(msg.recipients.values_list("phone_number", "state")) == {
        A: "DLVRD",
        FAILS: "UNKNRCPT",
    }


def test_5xx_after_accept_is_reconciled_with_no_second_post(sandbox: SandboxServer) -> None:
    sandbox.configure(error_after_next=1)
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.SENT, msg.last_error
    assert sandbox.post_count(msg.order_id) == 1


def test_read_timeout_after_accept_is_reconciled_with_no_second_post(
    sandbox: SandboxServer,
) -> None:
    sandbox.configure(timeout_after_next=1, timeout_seconds=3)
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.SENT, msg.last_error
    assert sandbox.post_count(msg.order_id) == 1


def test_5xx_before_accept_is_retried_and_sent_once(sandbox: SandboxServer) -> None:
    sandbox.configure(error_next=1)
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.QUEUED  # GET said 404: not sent, retry planned
    msg.next_attempt_at = None
    msg.save(update_fields=["next_attempt_at"])
    assert services.flush_queue().by_status == {Status.SENT: 1}
    assert len([o for o in sandbox.orders() if o["order_id"] == msg.order_id]) == 1


def test_schedule_then_cancel(sandbox: SandboxServer) -> None:
    msg = services.send_sms("Later", [A], scheduled_delivery_time=timezone.now() + timedelta(1))
    assert msg.status == Status.SCHEDULED
    msg = services.cancel(msg)
    assert msg.status == Status.CANCELLED


def test_expired_session_logs_in_again(sandbox: SandboxServer) -> None:
    services.send_sms("One", [A])
    sandbox.configure(unauthorized_next=1)
    assert services.send_sms("Two", [A]).status == Status.SENT


def test_keys_refused_right_after_a_fresh_login_retry_later_not_fail(
    sandbox: SandboxServer,
) -> None:
    """The login worked but its keys were refused at once (a session the gateway dropped):
    not wrong credentials, so the message waits for a retry instead of failing."""
    services.send_sms("One", [A])
    sandbox.configure(unauthorized_next=2)  # the POST, and its repeat after a fresh login
    msg = services.send_sms("Two", [A])
    assert msg.status == Status.QUEUED and msg.next_attempt_at is not None, msg.last_error
    assert "refused the API keys" in msg.last_error
    services.send_message(msg.pk, force=True)
    msg.refresh_from_db()
    assert msg.status == Status.SENT and msg.total_sent == 1 and msg.attempts == 2


def test_a_wrong_password_still_fails_at_once(sandbox: SandboxServer) -> None:
    from django.test import override_settings

    from django_smsrest.backends import rest
    from django_smsrest.conf import get_settings

    rest.reset_clients()
    conf = get_settings()
    with override_settings(
        SMSREST={
            **SMSREST,
            **sandbox.smsrest_settings(),
            "BACKEND": "django_smsrest.backends.rest.RestBackend",
            "PASSWORD": "wrong",
        }
    ):
        msg = services.send_sms("Hi", [A])
    rest.reset_clients()
    assert conf is not None
    assert msg.status == Status.FAILED and msg.attempts == 1


def test_credits(sandbox: SandboxServer) -> None:
    assert services.get_credits().credits
