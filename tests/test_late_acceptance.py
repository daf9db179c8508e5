"""A POST whose answer was lost, checked too early (404), and registered by the gateway
afterwards: the retry's 400 "repeated order_id" must not fail a message that went out."""

from __future__ import annotations

import pytest

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.exceptions import GatewayRejected, GatewayTimeout, OrderNotFound
from django_smsrest.models import OrderStatus, SmsMessage, Status
from django_smsrest.testing.outbox import sms_outbox  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _first_attempt_lost(msg: SmsMessage) -> None:
    """Attempt 1: the POST times out and the gateway does not (yet) know the order."""
    locmem.fail_next("send", GatewayTimeout("read timed out"))
    locmem.fail_next("get_order", OrderNotFound("no such order", status_code=404))
    assert services.send_message(msg.pk, force=True).status == Status.QUEUED


def test_a_400_on_a_retried_order_the_gateway_has_ends_sent(sms_outbox: list) -> None:  # noqa: F811
    msg = services.queue_sms("Hello", ["+393471234567"])
    _first_attempt_lost(msg)
    # Attempt 2: the gateway registered attempt 1 late and refuses the repeated order_id.
    locmem.fail_next(
        "send", GatewayRejected("order_id already used", status_code=400), accept=True
    )
    msg = services.send_message(msg.pk, force=True)
    assert msg.status == Status.SENT
    assert msg.orders.get().status == OrderStatus.ACCEPTED
    assert locmem.calls("get_order") == 2


def test_a_400_on_a_retried_order_the_gateway_lacks_still_fails(sms_outbox: list) -> None:  # noqa: F811
    msg = services.queue_sms("Hello", ["+393471234567"])
    _first_attempt_lost(msg)
    locmem.fail_next("send", GatewayRejected("sender not allowed", status_code=400))
    msg = services.send_message(msg.pk, force=True)
    assert msg.status == Status.FAILED and "sender not allowed" in msg.last_error


def test_a_400_on_a_first_attempt_fails_without_asking(sms_outbox: list) -> None:  # noqa: F811
    msg = services.queue_sms("Hello", ["+393471234567"])
    locmem.fail_next("send", GatewayRejected("sender not allowed", status_code=400))
    assert services.send_message(msg.pk).status == Status.FAILED
    assert locmem.calls("get_order") == 0


def test_send_message_inside_a_transaction_waits_for_the_commit(
    sms_outbox: list,  # noqa: F811
    django_capture_on_commit_callbacks,
) -> None:
    from django.db import transaction

    msg = services.queue_sms("Hello", ["+393471234567"])  # its task hint never runs here
    # transaction.atomic() stands for e.g. an admin action under ATOMIC_REQUESTS.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assert services.send_message(msg.pk, force=True) is None
        assert sms_outbox == []  # nothing posted while the transaction is open
    msg.refresh_from_db()
    assert msg.status == Status.SENT and len(sms_outbox) == 1
