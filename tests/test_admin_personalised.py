"""The admin for personalised and contact-group messages: the add form's groups field, and
per recipient the text a personalised message rendered."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.models import Kind, SmsMessage, Status

ADA, BOB = "+393471234567", "+393471234568"


@pytest.fixture
def admin(db) -> Client:
    locmem.reset()
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    yield client
    locmem.reset()


def test_the_add_form_sends_to_contact_groups(
    admin: Client, django_capture_on_commit_callbacks
) -> None:
    locmem.set_groups({"clienti": [ADA, BOB], "staff": [BOB]})
    data = {
        "message": "Chiuso lunedì",
        "recipients": "",
        "groups": "clienti, staff",
        "message_type": "N",
        "sender": "",
        "_continue": "Send",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("admin:django_smsrest_smsmessage_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    msg = SmsMessage.objects.get()
    assert (msg.kind, msg.groups, msg.status) == (Kind.GROUPS, ["clienti", "staff"], Status.SENT)
    page = admin.get(
        reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk])
    ).content.decode()
    assert "clienti" in page and "Contact groups" in page


def test_the_add_form_refuses_recipients_and_groups_together(admin: Client) -> None:
    data = {
        "message": "Ciao",
        "recipients": ADA,
        "groups": "clienti",
        "message_type": "N",
        "sender": "",
        "_continue": "Send",
    }
    response = admin.post(reverse("admin:django_smsrest_smsmessage_add"), data)
    assert response.status_code == 200
    assert "Give recipients or contact groups, not both." in response.content.decode()
    assert not SmsMessage.objects.exists()


def test_the_change_page_shows_each_personalised_text(admin: Client) -> None:
    msg = services.send_sms(
        "Ciao ${name}, <b>a domani</b>",
        [{"recipient": ADA, "name": "Ada"}, {"recipient": BOB, "name": "<script>"}],
    )
    page = admin.get(
        reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk])
    ).content.decode()
    assert "Ciao ${name}, &lt;b&gt;a domani&lt;/b&gt;" in page  # the template
    assert "Ciao Ada, &lt;b&gt;a domani&lt;/b&gt;" in page  # each recipient's text, escaped
    assert "Ciao &lt;script&gt;, &lt;b&gt;a domani&lt;/b&gt;" in page
    assert "<script>," not in page
