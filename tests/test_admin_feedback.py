"""The banners tell what really happened (issue 13 items 10 and 12).

These tests commit for real (``transaction=True``): the add form and the resend send on
commit, and the banner must be built after that send ran, as it is in production.
"""

from __future__ import annotations

import pytest
from django.contrib import messages
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.exceptions import AuthenticationError, GatewayConnectionError
from django_smsrest.models import SmsMessage, Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_gateway")]

ADD = "admin:django_smsrest_smsmessage_add"
CHANGELIST = "admin:django_smsrest_smsmessage_changelist"
NUMBER = "+393471234567"
OTHER = "+393481234567"


@pytest.fixture
def client() -> Client:
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _banners(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in response.context["messages"]]


def _add(client: Client) -> tuple[SmsMessage, list[tuple[int, str]]]:
    data = {"message": "Hello", "recipients": NUMBER, "message_type": "N", "_continue": "Send"}
    response = client.post(reverse(ADD), data, follow=True)
    assert response.status_code == 200
    return SmsMessage.objects.get(), _banners(response)


def test_add_banner_says_sent_when_sent(client: Client) -> None:
    msg, banners = _add(client)
    assert msg.status == Status.SENT
    assert len(banners) == 1
    level, text = banners[0]
    assert level == messages.SUCCESS
    assert "Sent" in text and "Queued" not in text


def test_add_banner_is_an_error_with_the_reason_when_the_send_failed(client: Client) -> None:
    locmem.fail_next("send", AuthenticationError("Login refused: wrong username or password"))
    msg, banners = _add(client)
    assert msg.status == Status.FAILED
    [(level, text)] = banners
    assert level == messages.ERROR
    assert "Failed" in text and "wrong username or password" in text
    assert "Queued" not in text


def test_add_banner_is_a_warning_when_queued_for_retry(client: Client) -> None:
    locmem.fail_next("send", GatewayConnectionError("The gateway cannot be reached"))
    msg, banners = _add(client)
    assert msg.status == Status.QUEUED and msg.next_attempt_at is not None
    [(level, text)] = banners
    assert level == messages.WARNING
    assert "Queued" in text and "cannot be reached" in text


def _sent_and_delivered() -> tuple[SmsMessage, SmsMessage]:
    sent = services.send_sms("one", [NUMBER])
    delivered = services.send_sms("two", [OTHER])
    locmem.set_delivery_state("DLVRD", order_id=delivered.order_id)
    delivered = services.refresh_status(delivered)
    assert (sent.status, delivered.status) == (Status.SENT, Status.DELIVERED)
    return sent, delivered


def test_resend_action_reports_the_new_messages(client: Client) -> None:
    sent, delivered = _sent_and_delivered()
    data = {"action": "resend", "_selected_action": [sent.pk, delivered.pk], "post": "yes"}
    response = client.post(reverse(CHANGELIST), data, follow=True)
    new = list(SmsMessage.objects.filter(resend_of__isnull=False).order_by("pk"))
    assert [m.status for m in new] == [Status.SENT, Status.SENT]
    [(level, text)] = _banners(response)
    assert level == messages.SUCCESS
    assert "2 sent" in text
    assert "delivered" not in text  # the originals' outcome is not the resend's
    assert f"#{new[0].pk}" in text and f"#{new[1].pk}" in text


def test_resend_action_reports_a_failed_new_message_as_an_error(client: Client) -> None:
    sent, delivered = _sent_and_delivered()
    locmem.fail_next("send", AuthenticationError("Login refused"))
    data = {"action": "resend", "_selected_action": [sent.pk, delivered.pk], "post": "yes"}
    response = client.post(reverse(CHANGELIST), data, follow=True)
    statuses = sorted(SmsMessage.objects.filter(resend_of__isnull=False).values_list("status"))
    assert statuses == [(Status.FAILED,), (Status.SENT,)]
    [(level, text)] = _banners(response)
    assert level == messages.ERROR
    assert "1 failed" in text and "1 sent" in text


def test_resend_button_reports_the_new_messages_outcome(client: Client) -> None:
    sent, _ = _sent_and_delivered()
    locmem.fail_next("send", AuthenticationError("Login refused"))
    url = reverse("admin:django_smsrest_smsmessage_resend", args=[sent.pk])
    response = client.post(url, {"post": "yes"}, follow=True)
    new = SmsMessage.objects.get(resend_of=sent)
    assert new.status == Status.FAILED
    [(level, text)] = _banners(response)
    assert level == messages.ERROR
    assert f"#{new.pk}" in text and "Failed" in text and "Login refused" in text
