"""The delivery-callback view: token (constant time, rotation), fields as form or query,
forward-only states through the same rules as polling, unknown orders answered 200."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import include, path

from django_smsrest import services, signals
from django_smsrest.backends import locmem
from django_smsrest.models import SmsMessage, Status
from tests.settings import SMSREST

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

urlpatterns = [path("sms/", include("django_smsrest.urls"))]

OLD, NEW = "old-token-0123456789abcdef", "new-token-fedcba9876543210"
A, B = "+393471234567", "+393471234568"


@pytest.fixture(autouse=True)
def _tokens() -> Iterator[None]:
    locmem.reset()
    with override_settings(SMSREST={**SMSREST, "CALLBACK_TOKENS": [OLD, NEW]}):
        yield
    locmem.reset()


def _call(token: str, method: str = "post", **fields: str) -> Any:
    client = Client(enforce_csrf_checks=True)  # the provider has no CSRF cookie
    return getattr(client, method)(f"/sms/callback/{token}/", fields)


def _sent(*numbers: str) -> SmsMessage:
    msg = services.send_sms("Ciao", list(numbers))
    assert msg.status == Status.SENT
    return msg


def test_a_delivered_report_moves_the_recipient_and_the_message() -> None:
    msg = _sent(A)

    response = _call(
        NEW, order_id=msg.order_id, recipient=A, status="DLVRD", delivery_date="20300101120000"
    )

    assert response.status_code == 200 and response.content == b"OK applied"
    msg.refresh_from_db()
    assert msg.status == Status.DELIVERED and msg.finished_at is not None
    rcpt = msg.recipients.get()
    assert rcpt.state == "DLVRD"
    assert rcpt.delivery_date is not None and rcpt.delivery_date.year == 2030
    assert msg.claim_token == "" and msg.lease_until is None  # the claim was given back


def test_both_tokens_work_during_a_rotation_and_get_works_too() -> None:
    msg = _sent(A, B)

    old = _call(OLD, order_id=msg.order_id, recipient=A, status="DLVRD")
    new = _call(NEW, "get", order_id=msg.order_id, recipient=B.lstrip("+"), status="UNKNRCPT")

    assert (old.content, new.content) == (b"OK applied", b"OK applied")
    msg.refresh_from_db()
    assert msg.status == Status.PARTIALLY_DELIVERED
    assert dict(msg.recipients.values_list("phone_number", "state")) == {
        A: "DLVRD",
        B: "UNKNRCPT",
    }


@pytest.mark.parametrize("token", ["wrong-token-0123456789abcdef", OLD[:-1], OLD + "x", "x"])
def test_a_wrong_token_is_a_404_and_changes_nothing(token: str) -> None:
    msg = _sent(A)

    response = _call(token, order_id=msg.order_id, recipient=A, status="DLVRD")

    assert response.status_code == 404
    assert msg.recipients.get().state == ""


def test_no_token_configured_means_the_endpoint_is_off() -> None:
    msg = _sent(A)
    with override_settings(SMSREST=SMSREST):
        response = _call(OLD, order_id=msg.order_id, recipient=A, status="DLVRD")
    assert response.status_code == 404


def test_states_only_move_forward() -> None:
    msg = _sent(A)
    assert _call(NEW, order_id=msg.order_id, recipient=A, status="DLVRD").status_code == 200

    late = _call(NEW, order_id=msg.order_id, recipient=A, status="WAITING")

    assert late.content == b"OK busy"  # the message is final: nothing to claim
    assert msg.recipients.get().state == "DLVRD"


def test_a_late_report_below_the_recorded_state_is_ignored() -> None:
    msg = _sent(A, B)
    _call(NEW, order_id=msg.order_id, recipient=A, status="WAIT4DLVR")

    late = _call(NEW, order_id=msg.order_id, recipient=A, status="WAITING")

    assert late.content == b"OK unchanged"
    assert msg.recipients.get(phone_number=A).state == "WAIT4DLVR"


def test_unknown_order_is_answered_200_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="django_smsrest"):
        response = _call(NEW, order_id="nosuchorder", recipient=A, status="DLVRD")

    assert response.status_code == 200 and response.content == b"OK unknown order"
    assert "unknown order 'nosuchorder'" in caplog.text


def test_unknown_recipient_and_unreadable_status_are_answered_200() -> None:
    msg = _sent(A)

    stranger = _call(NEW, order_id=msg.order_id, recipient="+393330000000", status="DLVRD")
    gibberish = _call(NEW, order_id=msg.order_id, recipient=A, status="BANANA")

    assert stranger.content == b"OK unknown recipient"
    assert gibberish.content == b"OK unreadable status"
    assert msg.recipients.get().state == ""


def test_missing_fields_are_a_400() -> None:
    response = _call(NEW, order_id="x")
    assert response.status_code == 400
    assert b"recipient, status" in response.content


def test_other_methods_are_refused() -> None:
    assert Client().put(f"/sms/callback/{NEW}/").status_code == 405


def test_the_signal_reports_the_change() -> None:
    msg = _sent(A)
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    signals.delivery_status_changed.connect(receiver, weak=False)
    try:
        _call(NEW, order_id=msg.order_id, recipient=A, status="DLVRD")
    finally:
        signals.delivery_status_changed.disconnect(receiver)

    [event] = seen
    assert event["previous_status"] == Status.SENT and event["message"].status == Status.DELIVERED
    assert [r.phone_number for r in event["recipients"]] == [A]


def test_a_message_held_by_a_worker_gets_the_report_when_its_claim_ends() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from django_smsrest.conf import get_settings
    from django_smsrest.outbox import ClaimedMessage

    msg = _sent(A)
    SmsMessage.objects.filter(pk=msg.pk).update(
        claim_token="someone", lease_until=timezone.now() + timedelta(minutes=1)
    )

    response = _call(NEW, order_id=msg.order_id, recipient=A, status="DLVRD")

    assert response.content == b"OK held"
    assert msg.recipients.get().state == ""  # not under someone else's claim
    msg.refresh_from_db()
    ClaimedMessage(msg, "someone", get_settings()).release(Status.SENT)  # that worker is done
    msg.refresh_from_db()
    assert msg.status == Status.DELIVERED and msg.recipients.get().state == "DLVRD"
    assert not msg.held_reports.exists()


def test_a_group_message_is_left_to_polling() -> None:
    locmem.set_groups({"clienti": [A, B]})
    msg = services.send_sms("Ciao", groups=["clienti"])
    assert msg.status == Status.SENT

    response = _call(NEW, order_id=msg.order_id, recipient=A, status="DLVRD")

    assert response.content == b"OK busy"
    msg.refresh_from_db()
    assert msg.status == Status.SENT and msg.finished_at is None


@pytest.mark.parametrize(
    "tokens", ["a-single-string-token-0123", ["short"], [123456789012345678], None]
)
def test_callback_tokens_must_be_a_list_of_long_strings(tokens: Any) -> None:
    from django_smsrest.conf import settings_problems

    [problem] = settings_problems({**SMSREST, "CALLBACK_TOKENS": tokens})

    assert problem.key == "CALLBACK_TOKENS"
    assert "0123" not in problem.text and "short" not in problem.text  # never the value


def test_callback_tokens_never_show_in_the_settings_repr() -> None:
    from django_smsrest.conf import get_settings

    conf = get_settings()
    assert OLD not in repr(conf) and len(conf.callback_tokens) == 2
