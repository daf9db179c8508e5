"""Tests of the example project, run with its own settings::

    .venv/bin/pytest --ds=example_project.settings example_project/tests

(``tests/test_example_project.py`` in the main suite runs exactly that in a subprocess.)
The gateway is django-smsrest's in-memory backend, so nothing leaves the process.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_smsrest.backends import locmem
from django_smsrest.exceptions import GatewayRejected
from django_smsrest.models import SmsMessage, Status
from example_project.appointments.models import Appointment
from example_project.sms_demo.models import SentMessage

pytestmark = pytest.mark.django_db

NUMBER = "+393471234567"


@pytest.fixture(autouse=True)
def _locmem_gateway():
    conf = {**settings.SMSREST, "BACKEND": "django_smsrest.backends.locmem.LocmemBackend"}
    locmem.reset()
    cache.clear()
    with override_settings(SMSREST=conf):
        yield
    locmem.reset()


@pytest.fixture
def alice() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("alice", password="pw"))
    return client


def _send(client: Client, **data: str):
    payload = {"message": "Hello", "recipients": NUMBER, "message_type": "N", **data}
    return client.post(reverse("sms_demo:send"), payload)


def test_pages_need_login() -> None:
    for url in (reverse("sms_demo:send"), reverse("sms_demo:detail", args=[1])):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert Client().get(reverse("login")).status_code == 200


def test_send_page_sends_and_redirects_to_the_status_page(alice: Client) -> None:
    response = _send(alice, message="Hello from the example")
    msg = SmsMessage.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("sms_demo:detail", args=[msg.pk])
    assert msg.status == Status.SENT
    assert SentMessage.objects.get().message == msg
    assert [o.message for o in locmem.outbox] == ["Hello from the example"]


def test_send_page_shows_the_services_errors(alice: Client) -> None:
    response = _send(alice, message="", recipients="+39 123")
    assert response.status_code == 200
    html = response.content.decode()
    assert "The message is empty" in html
    assert "+39 123" in html  # the recipient error names the number
    assert SmsMessage.objects.count() == 0


def test_status_page_refreshes_until_final(alice: Client) -> None:
    _send(alice)
    msg = SmsMessage.objects.get()
    url = reverse("sms_demo:detail", args=[msg.pk])
    html = alice.get(url).content.decode()
    assert '<meta http-equiv="refresh"' in html
    assert 'id="sms-reloading"' in html

    locmem.set_delivery_state("DLVRD")
    cache.clear()  # the page asks the gateway at most every 2 seconds
    html = alice.get(url).content.decode()
    msg.refresh_from_db()
    assert msg.status == Status.DELIVERED
    assert "Delivered (DLVRD)" in html
    assert '<meta http-equiv="refresh"' not in html
    assert 'id="sms-final"' in html


def test_status_page_throttles_gateway_calls(alice: Client) -> None:
    _send(alice)
    url = reverse("sms_demo:detail", args=[SmsMessage.objects.get().pk])
    before = locmem.calls("get_order")
    for _ in range(3):
        alice.get(url)
    assert locmem.calls("get_order") == before + 1


def test_users_see_only_their_own_messages(alice: Client) -> None:
    _send(alice)
    msg = SmsMessage.objects.get()
    bob = Client()
    bob.force_login(User.objects.create_user("bob", password="pw"))
    assert bob.get(reverse("sms_demo:detail", args=[msg.pk])).status_code == 404
    assert alice.get(reverse("sms_demo:detail", args=[msg.pk])).status_code == 200


def test_staff_without_the_view_permission_cannot_read_others_messages(alice: Client) -> None:
    """Being staff is not enough: the page shows the text and numbers of someone else's SMS
    and asks the gateway about it. 404, and no gateway request."""
    _send(alice)
    msg = SmsMessage.objects.get()
    staff = Client()
    staff.force_login(User.objects.create_user("carol", password="pw", is_staff=True))
    before = locmem.calls("get_order")
    response = staff.get(reverse("sms_demo:detail", args=[msg.pk]))
    assert response.status_code == 404
    assert locmem.calls("get_order") == before


def test_the_view_permission_lets_a_user_read_any_message(alice: Client) -> None:
    from django.contrib.auth.models import Permission

    _send(alice)
    msg = SmsMessage.objects.get()
    dave = User.objects.create_user("dave", password="pw")
    dave.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="django_smsrest", codename="view_smsmessage"
        )
    )
    client = Client()
    client.force_login(dave)
    response = client.get(reverse("sms_demo:detail", args=[msg.pk]))
    assert response.status_code == 200
    assert "Hello" in response.content.decode()
    # A superuser has every permission.
    root = Client()
    root.force_login(User.objects.create_superuser("root", password="pw"))
    assert root.get(reverse("sms_demo:detail", args=[msg.pk])).status_code == 200


def test_a_message_nobody_sent_from_the_page_is_404_for_its_non_author(alice: Client) -> None:
    """Messages sent elsewhere (admin, command, receivers) have no author: only users with
    the view permission see them."""
    from django_smsrest import send_sms

    msg = send_sms("From the command line", [NUMBER])
    assert alice.get(reverse("sms_demo:detail", args=[msg.pk])).status_code == 404


def test_a_failed_message_shows_its_error_once(alice: Client) -> None:
    locmem.fail_next(
        "send", GatewayRejected("Sender not approved by the operator", status_code=400)
    )
    response = _send(alice)
    assert SmsMessage.objects.get().status == Status.FAILED
    html = alice.get(response["Location"]).content.decode()
    assert html.count("Sender not approved by the operator") == 1


def test_creating_an_appointment_queues_one_reminder(django_capture_on_commit_callbacks) -> None:
    starts = timezone.now() + timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        appointment = Appointment.objects.create(
            name="Ada", phone="347 123 4567", starts_at=starts
        )
    assert len(callbacks) == 1  # the send task, enqueued on commit
    msg = SmsMessage.objects.get()
    appointment.refresh_from_db()
    assert appointment.reminder == msg
    assert msg.message.startswith("Hi Ada, see you on")
    assert msg.scheduled_delivery_time == starts - timedelta(hours=24)
    assert list(msg.recipients.values_list("phone_number", flat=True)) == [NUMBER]
    # The ImmediateBackend ran the task at commit: the gateway has it, scheduled.
    assert msg.status == Status.SCHEDULED
    assert len(locmem.outbox) == 1
    # Saving again does not queue a second reminder.
    appointment.name = "Ada L."
    appointment.save()
    assert SmsMessage.objects.count() == 1


def test_appointment_soon_is_reminded_now(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        Appointment.objects.create(
            name="Bo", phone=NUMBER, starts_at=timezone.now() + timedelta(hours=2)
        )
    msg = SmsMessage.objects.get()
    assert msg.scheduled_delivery_time is None
    assert msg.status == Status.SENT


def test_bad_phone_does_not_break_saving_the_appointment(caplog) -> None:
    appointment = Appointment.objects.create(
        name="Cy", phone="+39 123", starts_at=timezone.now() + timedelta(days=1)
    )
    assert appointment.pk is not None
    assert SmsMessage.objects.count() == 0
    assert "No reminder for appointment" in caplog.text


def test_admin_pages_load() -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw"))
    for name in (
        "admin:django_smsrest_smsmessage_changelist",
        "admin:django_smsrest_smsmessage_add",
        "admin:appointments_appointment_changelist",
        "admin:appointments_appointment_add",
    ):
        assert client.get(reverse(name)).status_code == 200, name
