"""Issue 23 item 1: a message's purpose (transactional / marketing) and campaign name, as
send options of the services, the admin form and the command; stored, sent to the
gateway (``campaign_name``) and filterable in the admin and the dashboard."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from django_smsrest import queue_sms, send_sms
from django_smsrest.admin import dashboard
from django_smsrest.backends import locmem
from django_smsrest.models import Purpose, SmsMessage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_gateway")]

A, B = "+393471234567", "+393471234568"
CHANGELIST = "admin:django_smsrest_smsmessage_changelist"


@pytest.fixture
def admin(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_transactional_is_the_default_and_marketing_is_stored() -> None:
    plain = send_sms("Your code", [A])
    promo = send_sms("Sale!", [B], purpose="marketing", campaign_name="winter-sale")
    assert plain.purpose == Purpose.TRANSACTIONAL and plain.campaign_name == ""
    promo.refresh_from_db()
    assert promo.purpose == Purpose.MARKETING and promo.campaign_name == "winter-sale"
    # The campaign name reaches the gateway order; none for the message without one.
    first, second = locmem.outbox
    assert first.campaign_name == "" and second.campaign_name == "winter-sale"


def test_queue_sms_takes_the_same_options() -> None:
    msg = queue_sms("Sale!", [A], purpose="marketing", campaign_name="c1")
    msg.refresh_from_db()
    assert (msg.purpose, msg.campaign_name) == ("marketing", "c1")


def test_bad_purpose_and_campaign_are_refused_before_anything_is_written() -> None:
    with pytest.raises(ValidationError) as exc:
        send_sms("Hi", [A], purpose="promo", campaign_name="x" * 65)
    assert set(exc.value.error_dict) == {"purpose", "campaign_name"}
    assert "transactional" in str(exc.value.error_dict["purpose"][0].messages[0])
    assert SmsMessage.objects.count() == 0


def test_a_resend_keeps_purpose_and_campaign() -> None:
    from django_smsrest import services

    msg = send_sms("Sale!", [A], purpose="marketing", campaign_name="c2")
    again = services.resend(msg, defer=False)
    assert (again.purpose, again.campaign_name) == ("marketing", "c2")


def test_command_marketing_and_campaign() -> None:
    call_command("send_sms", "--to", A, "--marketing", "--campaign", "spring", "Hi", stdout=None)
    msg = SmsMessage.objects.get()
    assert (msg.purpose, msg.campaign_name) == ("marketing", "spring")


def test_command_refuses_marketing_with_a_mode() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--marketing"):
        call_command("send_sms", "--flush", "--marketing")


def test_admin_add_form_sends_a_marketing_message(admin: Client) -> None:
    data = {
        "message": "Sale!",
        "recipients": A,
        "message_type": "N",
        "purpose": "marketing",
        "campaign_name": "admin-sale",
        "_continue": "Send",
    }
    response = admin.post(reverse("admin:django_smsrest_smsmessage_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    msg = SmsMessage.objects.get()
    assert (msg.purpose, msg.campaign_name) == ("marketing", "admin-sale")


def test_changelist_filters_by_purpose_and_campaign(admin: Client) -> None:
    send_sms("PLAINTEXT", [A])
    send_sms("PROMOTEXT", [B], purpose="marketing", campaign_name="camp-x")
    url = reverse(CHANGELIST)
    html = admin.get(url, {"purpose__exact": "marketing"}).content.decode()
    assert "PROMOTEXT" in html and "PLAINTEXT" not in html
    html = admin.get(url, {"campaign": "camp-x"}).content.decode()
    assert "PROMOTEXT" in html and "PLAINTEXT" not in html
    html = admin.get(url).content.decode()
    assert "?campaign=camp-x" in html  # offered in the filter sidebar


def test_dashboard_by_purpose(admin: Client) -> None:
    send_sms("a", [A])
    send_sms("b", [A], purpose="marketing")
    send_sms("c", [B], purpose="marketing")
    assert sum(dashboard.build().totals.values()) == 3
    assert sum(dashboard.build(purpose="marketing").totals.values()) == 2
    assert sum(dashboard.build(purpose="transactional").totals.values()) == 1
    response = admin.get(
        reverse("admin:django_smsrest_smsmessage_dashboard"), {"purpose": "marketing"}
    )
    assert response.status_code == 200
    assert response.context["board"].totals == dashboard.build(purpose="marketing").totals
    assert '<strong aria-current="page">Marketing</strong>' in response.content.decode()
