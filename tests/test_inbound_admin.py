"""The received-SMS admin: read-only list with search (numbers in any format, text, id),
the raw JSON on the view page, constant queries per page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_smsrest.models import ReceivedSms

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_smsrest_receivedsms_changelist"


@pytest.fixture
def admin_client_() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def _row(n: int, sender: str = "+393471234567", text: str = "Ciao") -> ReceivedSms:
    return ReceivedSms.objects.create(
        gateway_id=str(n),
        sender=sender,
        sim="+393400000000",
        text=text,
        received_at=timezone.now() - timedelta(minutes=n),
        raw={"id": str(n), "phoneNumber": sender, "text": text, "extra": "<b>x</b>"},
    )


def _listed(client: Client, query: str = "") -> list[str]:
    response = client.get(reverse(CHANGELIST) + query)
    assert response.status_code == 200
    return [r.gateway_id for r in response.context["cl"].result_list]


def test_list_newest_first_and_no_add_or_delete(admin_client_: Client) -> None:
    _row(2)
    _row(1)

    response = admin_client_.get(reverse(CHANGELIST))

    assert [r.gateway_id for r in response.context["cl"].result_list] == ["1", "2"]
    assert reverse("admin:django_smsrest_receivedsms_add") not in response.content.decode()
    assert response.context["cl"].model_admin.get_actions(response.wsgi_request) == {}


def test_search_by_number_in_any_format_by_text_and_by_id(admin_client_: Client) -> None:
    _row(1, sender="+393471234567", text="Confermo")
    _row(2, sender="+393339998887", text="Annullo l'appuntamento")

    assert _listed(admin_client_, "?q=347+123+4567") == ["1"]
    assert _listed(admin_client_, "?q=0039+333+999+8887") == ["2"]
    assert _listed(admin_client_, "?q=appuntamento") == ["2"]
    assert _listed(admin_client_, "?q=1") == ["1"]


def test_view_page_is_read_only_and_shows_the_raw_json_escaped(admin_client_: Client) -> None:
    row = _row(1)

    response = admin_client_.get(reverse("admin:django_smsrest_receivedsms_change", args=[row.pk]))
    posted = admin_client_.post(
        reverse("admin:django_smsrest_receivedsms_change", args=[row.pk]), {"text": "changed"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "&quot;phoneNumber&quot;: &quot;+393471234567&quot;" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert 'name="text"' not in page
    assert posted.status_code == 403
    row.refresh_from_db()
    assert row.text == "Ciao"


def test_query_count_does_not_grow_with_rows(admin_client_: Client) -> None:
    for n in range(5):
        _row(n)
    with CaptureQueriesContext(connection) as small:
        assert len(_listed(admin_client_)) == 5
    for n in range(5, 100):
        _row(n)
    with CaptureQueriesContext(connection) as large:
        assert len(_listed(admin_client_)) == 100

    assert len(large.captured_queries) == len(small.captured_queries)


def test_view_permission_is_enough_to_read(admin_client_: Client) -> None:
    _row(1)
    user = User.objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_receivedsms"))
    client = Client()
    client.force_login(user)

    assert _listed(client) == ["1"]
