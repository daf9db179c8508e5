"""The services through the REST backend, with the gateway mocked by ``responses``.

Each test states what the gateway answered and checks the row, the number of HTTP calls
and, where it matters, that an order id was never posted twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import responses
from django.test import override_settings
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import rest
from django_smsrest.models import OrderStatus, SmsMessage, SmsOrder, Status
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db

BASE = "https://gateway.test/API/v1.0/REST/"
REST_SETTINGS = {
    **SMSREST,
    "BACKEND": "django_smsrest.backends.rest.RestBackend",
    "BASE_URL": BASE,
}
A, B = "+393471234567", "+393471234568"


@pytest.fixture
def gateway() -> Iterator[responses.RequestsMock]:
    """A mocked gateway with a working login; the REST client cache is reset around it."""
    rest.reset_clients()
    with (
        override_settings(SMSREST=REST_SETTINGS),
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):
        mock.add(responses.GET, BASE + "login", body="USERKEY;SESSIONKEY", status=200)
        yield mock
    rest.reset_clients()


def accept(remaining: int = 977, internal: str = "INT-1") -> Any:
    """A POST sms callback answering 201 and echoing the request's order_id."""

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        return (
            201,
            {},
            json.dumps(
                {
                    "result": "OK",
                    "order_id": body["order_id"],
                    "total_sent": len(body["recipient"]),
                    "remaining_credits": remaining,
                    "internal_order_id": internal,
                }
            ),
        )

    return callback


def posts(mock: responses.RequestsMock) -> list[dict[str, Any]]:
    return [
        json.loads(c.request.body)
        for c in mock.calls
        if c.request.method == "POST" and c.request.url == BASE + "sms"
    ]


def calls_to(mock: responses.RequestsMock, method: str, suffix: str) -> int:
    return sum(
        1 for c in mock.calls if c.request.method == method and c.request.url.endswith(suffix)
    )


def order_status(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {
        "result": "OK",
        "recipient_number": len(pairs),
        "recipients": [
            {
                "destination": n,
                "status": s,
                "delivery_date": "20260101120000" if s == "DLVRD" else None,
            }
            for n, s in pairs
        ],
    }


def test_each_answer_updates_status_order_id_and_credits(gateway: responses.RequestsMock) -> None:
    gateway.add_callback(responses.POST, BASE + "sms", callback=accept(remaining=977))
    msg = services.send_sms("Ciao è già", [A, B], sender="ACME")
    assert msg.status == Status.SENT
    assert msg.total_sent == 2 and msg.remaining_credits == 977
    assert msg.internal_order_id == "INT-1"
    [body] = posts(gateway)
    assert body["order_id"] == msg.order_id
    assert body["recipient"] == [A, B] and body["encoding"] == "gsm"
    assert body["message_type"] == "N" and body["sender"] == "ACME"
    assert body["returnRemaining"] is True
    post = next(c for c in gateway.calls if c.request.method == "POST")
    assert post.request.headers["user_key"] == "USERKEY"
    assert post.request.headers["Session_key"] == "SESSIONKEY"
    order = SmsOrder.objects.get(message=msg)
    assert (order.status, order.total_sent, order.remaining_credits) == (
        OrderStatus.ACCEPTED,
        2,
        977,
    )


def test_unicode_text_is_sent_as_ucs2(gateway: responses.RequestsMock) -> None:
    gateway.add_callback(responses.POST, BASE + "sms", callback=accept())
    msg = services.send_sms("Perché “sì”", [A])
    assert msg.encoding == "ucs2" and posts(gateway)[0]["encoding"] == "ucs2"


def test_400_fails_at_once_with_the_gateways_reason(gateway: responses.RequestsMock) -> None:
    gateway.add(
        responses.POST,
        BASE + "sms",
        json={"result": "KO", "error_message": "Sender ACME not approved"},
        status=400,
    )
    msg = services.send_sms("Hello", [A], sender="ACME")
    assert msg.status == Status.FAILED
    assert "Sender ACME not approved" in msg.last_error
    assert "test-password-s3cret" not in msg.last_error and "SESSIONKEY" not in msg.last_error
    assert len(posts(gateway)) == 1


def test_401_logs_in_again_and_succeeds(gateway: responses.RequestsMock) -> None:
    gateway.add(responses.POST, BASE + "sms", status=401)  # the session key expired
    gateway.add_callback(responses.POST, BASE + "sms", callback=accept())
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.SENT
    logins = [c for c in gateway.calls if "/login" in c.request.url]
    assert len(logins) == 2 and len(posts(gateway)) == 2


def test_read_timeout_after_accept_is_reconciled_without_a_second_post(
    gateway: responses.RequestsMock,
) -> None:
    gateway.add(responses.POST, BASE + "sms", body=requests.ReadTimeout("read timed out"))
    msg = services.queue_sms("Hello", [A])
    gateway.add(responses.GET, BASE + f"sms/{msg.order_id}", json=order_status((A, "WAITING")))
    msg = services.send_message(msg.pk)
    assert msg is not None and msg.status == Status.SENT
    assert len(posts(gateway)) == 1  # reconciled by GET, never posted again
    assert calls_to(gateway, "GET", f"sms/{msg.order_id}") == 1
    assert msg.total_sent == 1


def test_5xx_then_not_found_is_retried_later(gateway: responses.RequestsMock) -> None:
    msg = services.queue_sms("Hello", [A])
    gateway.add(responses.POST, BASE + "sms", status=502)
    gateway.add(responses.GET, BASE + f"sms/{msg.order_id}", status=404)
    msg = services.send_message(msg.pk)
    assert msg is not None and msg.status == Status.QUEUED and msg.next_attempt_at is not None
    assert "502" in msg.last_error
    gateway.add_callback(responses.POST, BASE + "sms", callback=accept())
    SmsMessage.objects.filter(pk=msg.pk).update(next_attempt_at=None)
    msg = services.send_message(msg.pk)
    assert msg is not None and msg.status == Status.SENT
    assert [b["order_id"] for b in posts(gateway)] == [msg.order_id, msg.order_id]


def test_429_waits_for_retry_after(gateway: responses.RequestsMock) -> None:
    gateway.add(responses.POST, BASE + "sms", status=429, headers={"Retry-After": "120"})
    before = timezone.now()
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.QUEUED
    assert msg.next_attempt_at >= before + timedelta(seconds=120)


def test_schedule_then_cancel(gateway: responses.RequestsMock) -> None:
    gateway.add_callback(responses.POST, BASE + "sms", callback=accept())
    when = timezone.now() + timedelta(days=2)
    msg = services.send_sms("Reminder", [A], scheduled_delivery_time=when)
    assert msg.status == Status.SCHEDULED
    body = posts(gateway)[0]
    assert body["scheduled_delivery_time"] and body["scheduled_delivery_timezone"] == "Europe/Rome"
    gateway.add(responses.DELETE, BASE + f"sms/{msg.order_id}", json={"result": "OK"})
    msg = services.cancel(msg)
    assert msg.status == Status.CANCELLED
    assert calls_to(gateway, "DELETE", f"sms/{msg.order_id}") == 1


def test_2500_recipients_three_orders_none_doubled(gateway: responses.RequestsMock) -> None:
    numbers = [f"+39347{i:07d}" for i in range(1000000, 1002500)]
    with override_settings(SMSREST={**REST_SETTINGS, "MAX_RECIPIENTS_PER_ORDER": 1000}):
        msg = services.queue_sms("Big news", numbers)
        gateway.add_callback(responses.POST, BASE + "sms", callback=accept())
        # The second POST cannot connect: surely not sent.
        gateway.add(responses.POST, BASE + "sms", body=requests.ConnectTimeout("connect"))
        msg = services.send_message(msg.pk)
        assert msg is not None and msg.status == Status.QUEUED
        gateway.add_callback(responses.POST, BASE + "sms", callback=accept())
        SmsMessage.objects.filter(pk=msg.pk).update(next_attempt_at=None)
        msg = services.send_message(msg.pk)
    assert msg is not None and msg.status == Status.SENT and msg.total_sent == 2500
    orders = list(SmsOrder.objects.filter(message=msg).order_by("index"))
    bodies = posts(gateway)
    ids = [b["order_id"] for b in bodies]
    # POST 1 accepted, POST 2 never connected, then the retry sent only orders 2 and 3.
    assert ids == [orders[0].order_id, orders[1].order_id, orders[1].order_id, orders[2].order_id]
    assert [len(b["recipient"]) for b in bodies] == [1000, 1000, 1000, 500]
    assert len({o.order_id for o in orders}) == 3
    accepted = [b["recipient"] for b in bodies[:1] + bodies[2:]]
    flat = [n for chunk in accepted for n in chunk]
    assert sorted(flat) == sorted(numbers)  # every number exactly once


def test_refresh_to_delivered(gateway: responses.RequestsMock) -> None:
    gateway.add_callback(responses.POST, BASE + "sms", callback=accept())
    msg = services.send_sms("Hello", [A, B])
    gateway.add(
        responses.GET, BASE + f"sms/{msg.order_id}", json=order_status((A, "DLVRD"), (B, "DLVRD"))
    )
    msg = services.refresh_status(msg)
    assert msg.status == Status.DELIVERED
    assert all(r.delivery_date is not None for r in msg.recipients.all())


def test_get_credits(gateway: responses.RequestsMock) -> None:
    gateway.add(
        responses.GET,
        BASE + "status",
        json={"money": "12.5", "sms": [{"type": "N", "quantity": 321}]},
    )
    status = services.get_credits()
    assert status.credits == {"N": 321}


def test_missing_credentials_name_the_setting() -> None:
    from django_smsrest.exceptions import SmsRestConfigurationError

    with (
        override_settings(SMSREST={**REST_SETTINGS, "PASSWORD": ""}),
        pytest.raises(SmsRestConfigurationError, match="PASSWORD"),
    ):
        services.get_credits()
