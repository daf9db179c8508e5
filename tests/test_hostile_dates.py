"""Dates outside any sane window from the gateway (``00010101000000``, year 9999): a
delivery callback carrying one is refused (400, nothing stored); a ``GET sms/{id}`` answer
carrying one is read as "no date", so the admin page, the recipients list,
``refresh_status`` and the sweep keep working. (On main, year 1 was a 500 on SQLite and was
stored as 1 BC on PostgreSQL, breaking every page that showed it.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import responses
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import include, path, reverse

from django_smsrest import services
from django_smsrest.backends import locmem, rest
from django_smsrest.client import parse_gateway_datetime
from django_smsrest.models import SmsMessage, SmsRecipient, Status
from tests.settings import SMSREST
from tests.test_services_rest import BASE, REST_SETTINGS, accept, order_status

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

urlpatterns = [
    path("sms/", include("django_smsrest.urls")),
    path("admin/", __import__("django.contrib.admin", fromlist=["site"]).site.urls),
]

TOKEN = "callback-token-0123456789abcdef"
A, B = "+393471234567", "+393471234568"
HOSTILE = ["00010101000000", "99991231235959", "00000000000000", "18991231235959"]


@pytest.mark.parametrize("value", HOSTILE)
def test_dates_outside_the_window_are_unreadable(value: str) -> None:
    assert parse_gateway_datetime(value, UTC) is None


def test_dates_inside_the_window_are_read() -> None:
    assert parse_gateway_datetime("20300101120000", UTC) == datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert parse_gateway_datetime("20000101000000", UTC) is not None


# --- the callback -----------------------------------------------------------------------


@pytest.fixture
def callbacks() -> Iterator[None]:
    locmem.reset()
    with override_settings(SMSREST={**SMSREST, "CALLBACK_TOKENS": [TOKEN]}):
        yield
    locmem.reset()


@pytest.mark.parametrize("value", ["00010101000000", "99991231235959", "not a date"])
def test_a_callback_with_an_insane_delivery_date_is_refused(callbacks: None, value: str) -> None:
    msg = services.send_sms("Ciao", [A])
    assert msg.status == Status.SENT
    response = Client().post(
        f"/sms/callback/{TOKEN}/",
        {"order_id": msg.order_id, "recipient": A, "status": "DLVRD", "delivery_date": value},
    )
    assert response.status_code == 400
    assert b"delivery_date" in response.content
    msg.refresh_from_db()
    assert msg.status == Status.SENT  # nothing stored
    recipient = msg.recipients.get()
    assert (recipient.state, recipient.delivery_date) == ("", None)
    assert msg.claim_token == ""  # no claim taken and left behind


def test_a_callback_without_a_delivery_date_is_still_applied(callbacks: None) -> None:
    msg = services.send_sms("Ciao", [A])
    response = Client().post(
        f"/sms/callback/{TOKEN}/", {"order_id": msg.order_id, "recipient": A, "status": "DLVRD"}
    )
    assert response.status_code == 200 and response.content == b"OK applied"


# --- GET sms/{order_id} -----------------------------------------------------------------


@pytest.fixture
def gateway() -> Iterator[responses.RequestsMock]:
    rest.reset_clients()
    with (
        override_settings(SMSREST=REST_SETTINGS),
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):
        mock.add(responses.GET, BASE + "login", body="USERKEY;SESSIONKEY", status=200)
        yield mock
    rest.reset_clients()


def _year_one(order_id: str) -> dict[str, object]:
    answer = order_status((A, "DLVRD"), (B, "DLVRD"))
    for item in answer["recipients"]:  # type: ignore[union-attr]
        item["delivery_date"] = "00010101000000"
    return answer


def test_refresh_status_reads_a_year_one_date_as_no_date(gateway: responses.RequestsMock) -> None:
    gateway.add_callback(responses.POST, BASE + "sms", callback=accept())
    msg = services.send_sms("Hello", [A, B])
    gateway.add(responses.GET, BASE + f"sms/{msg.order_id}", json=_year_one(msg.order_id))

    msg = services.refresh_status(msg)

    assert msg.status == Status.DELIVERED
    assert list(msg.recipients.values_list("state", "delivery_date")) == [("DLVRD", None)] * 2


def test_the_sweep_and_the_admin_pages_keep_working(gateway: responses.RequestsMock) -> None:
    gateway.add_callback(responses.POST, BASE + "sms", callback=accept())
    msg = services.send_sms("Hello", [A, B])
    gateway.add(responses.GET, BASE + f"sms/{msg.order_id}", json=_year_one(msg.order_id))
    SmsMessage.objects.filter(pk=msg.pk).update(next_status_check_at=msg.created_at)

    report = services.sweep()

    assert (report.refreshed, report.errors) == (1, 0)
    msg.refresh_from_db()
    assert msg.status == Status.DELIVERED
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    page = admin.get(reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk]))
    assert page.status_code == 200
    recipients = reverse("admin:django_smsrest_smsrecipient_changelist")
    listing = admin.get(recipients, {"message": msg.pk})
    assert listing.status_code == 200
    assert SmsRecipient.objects.filter(message=msg, delivery_date=None).count() == 2
