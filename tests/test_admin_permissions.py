"""Who may press the buttons and run the actions (issue 13 item 9).

Every operation needs the custom ``send_smsmessage`` permission *and* the right to see the
message: a user who may not open a message's page must not read its text and delivery
states on the resend confirmation either, nor act on it.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.models import SmsMessage, Status
from django_smsrest.testing.tasks import no_task_worker as no_worker

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_gateway")]

NUMBER = "+393471234567"
SECRET_TEXT = "Your one-time code is 918273"


def _staff(*perms: str) -> Client:
    user = User.objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="django_smsrest", codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def _button(name: str, pk: int) -> str:
    return reverse(f"admin:django_smsrest_smsmessage_{name}", args=[pk])


def _queued() -> SmsMessage:
    with no_worker:
        return services.queue_sms(SECRET_TEXT, [NUMBER])


@pytest.mark.parametrize("name", ["send", "resend", "refresh", "cancel"])
@pytest.mark.parametrize("post", [{}, {"post": "yes"}])
def test_send_permission_without_view_permission_gets_403(name: str, post: dict) -> None:
    client = _staff("send_smsmessage")
    queued = _queued()
    sent = services.send_sms(SECRET_TEXT, [NUMBER])
    outbox = len(locmem.outbox)
    for msg in (queued, sent):
        assert (
            client.get(reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk]))
        ).status_code == 403
        response = client.post(_button(name, msg.pk), post)
        assert response.status_code == 403
        assert SECRET_TEXT not in response.content.decode()
    queued.refresh_from_db()
    sent.refresh_from_db()
    assert (queued.status, sent.status) == (Status.QUEUED, Status.SENT)
    assert SmsMessage.objects.count() == 2
    assert len(locmem.outbox) == outbox
    assert locmem.calls("get_order") == locmem.calls("cancel") == 0


def test_send_and_add_without_view_permission_cannot_add() -> None:
    client = _staff("send_smsmessage", "add_smsmessage")
    assert client.get(reverse("admin:django_smsrest_smsmessage_add")).status_code == 403


def test_view_and_send_permission_may_press_every_button() -> None:
    client = _staff("view_smsmessage", "send_smsmessage")
    msg = _queued()
    page = client.get(reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk]))
    assert _button("send", msg.pk) in page.content.decode()
    assert client.post(_button("send", msg.pk)).status_code == 302
    msg.refresh_from_db()
    assert msg.status == Status.SENT
    confirmation = client.post(_button("resend", msg.pk))
    assert confirmation.status_code == 200
    assert SECRET_TEXT in confirmation.content.decode()
