"""A readable changelist and message page (issue 17 item 5): one-line text with the full
text on hover, status badges, delivery states in words with the gateway's code, filters and
a date hierarchy, the brand's credits "as of" a time with a refresh, required fields marked;
and a query count that does not grow with the page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from django_smsrest import services
from django_smsrest.admin.changelist import CREDITS_CACHE_KEY
from django_smsrest.backends import locmem
from django_smsrest.models import SmsMessage
from django_smsrest.results import AccountStatus, DeliveryState
from django_smsrest.testing.tasks import no_task_worker as no_worker

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_gateway")]

CHANGELIST = "admin:django_smsrest_smsmessage_changelist"
REFRESH = "admin:django_smsrest_smsmessage_credits_refresh"
NUMBER = "+393471234567"
OTHER = "+393481234567"
LONG = "Dear customer, your parcel 4711 is out for delivery today between 9 and 12. " * 3


@pytest.fixture
def client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def _page(client: Client, url: str, **params: str) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_text_is_one_truncated_line_with_the_full_text_on_hover(client: Client) -> None:
    with no_worker:
        services.queue_sms(LONG.strip() + "\nsecond line", [NUMBER])
    html = _page(client, reverse(CHANGELIST))
    [span] = re.findall(r'<span class="smsrest-preview" title="([^"]*)">([^<]*)</span>', html)
    title, shown = span
    assert title.startswith("Dear customer") and title.endswith("second line")
    assert len(shown) <= 60 and shown.endswith("…") and "\n" not in shown


def test_delivery_states_in_words_with_the_gateway_code(client: Client) -> None:
    msg = services.send_sms("track", [NUMBER, OTHER], message_type="N")
    locmem.set_delivery_state("WAIT4DLVR", to=NUMBER)
    locmem.set_delivery_state("DLVRD", to=OTHER)
    services.refresh_status(msg)
    page = _page(client, reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk]))
    assert "Waiting for receipt (WAIT4DLVR)" in page
    assert "Delivered (DLVRD)" in page
    recipients = reverse("admin:django_smsrest_smsrecipient_changelist")
    listing = _page(client, recipients, message=str(msg.pk))
    assert "Delivered (DLVRD)" in listing and "Waiting for receipt (WAIT4DLVR)" in listing
    filtered = _page(client, recipients, state="DLVRD")
    assert filtered.count('class="field-phone_number"') == 1 and OTHER in filtered


def test_every_delivery_state_has_a_label_translated_to_italian() -> None:
    for state in DeliveryState:
        assert str(state.label) and str(state.label) != state.value
    with translation.override("it"):
        assert str(DeliveryState.DLVRD.label) == "Consegnato"
        assert str(DeliveryState.WAIT4DLVR.label) == "In attesa della ricevuta"


def test_filters_by_status_type_and_date_and_a_date_hierarchy(client: Client) -> None:
    with no_worker:
        services.queue_sms("hello", [NUMBER])
    html = _page(client, reverse(CHANGELIST))
    assert "?status__exact=queued" in html
    assert "?message_type=LL" in html
    assert "created_at__gte=" in html
    assert '<nav class="toplinks"' in html  # the date hierarchy's bar
    year = timezone.localdate().year
    html = _page(client, reverse(CHANGELIST), created_at__year=str(year))
    assert html.count('name="_selected_action"') == 1


def test_date_hierarchy_without_a_distinct_scan(client: Client) -> None:
    with no_worker:
        msgs = [services.queue_sms(f"m{i}", [NUMBER]) for i in range(3)]
    now = timezone.localtime()
    stamps = [now.replace(year=2025, month=3, day=30), now.replace(year=2025, month=5, day=2), now]
    for msg, stamp in zip(msgs, stamps, strict=True):
        SmsMessage.objects.filter(pk=msg.pk).update(created_at=stamp)
    with CaptureQueriesContext(connection) as ctx:
        html = _page(client, reverse(CHANGELIST))
    assert not [q for q in ctx.captured_queries if "DISTINCT" in q["sql"].upper()]
    bar = html[html.index('<nav class="toplinks"') :].split("</nav>", 1)[0]
    assert "created_at__year=2025" in bar and f"created_at__year={now.year}" in bar
    html = _page(client, reverse(CHANGELIST), created_at__year="2025")
    bar = html[html.index('<nav class="toplinks"') :].split("</nav>", 1)[0]
    assert bar.count("created_at__month=") == 3  # March to May
    assert html.count('name="_selected_action"') == 2
    html = _page(client, reverse(CHANGELIST), created_at__year="2025", created_at__month="3")
    bar = html[html.index('<nav class="toplinks"') :].split("</nav>", 1)[0]
    assert "created_at__day=30" in bar
    assert html.count('name="_selected_action"') == 1


def test_credits_only_for_the_brands_types_with_time_and_refresh(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def get_credits() -> AccountStatus:
        calls.append(1)
        return AccountStatus(credits={"N": 120, "GP": 999, "LL": 7})

    monkeypatch.setattr(services, "get_credits", get_credits)
    html = _page(client, reverse(CHANGELIST))
    line = html[html.index('id="smsrest-credits"') :].split("</div>", 1)[0]
    assert "<strong>120</strong> N<" in line and "<strong>7</strong> LL<" in line
    assert "<strong>999</strong>" not in line and " GP " not in line  # not the brand's
    assert re.search(r"as of \d\d:\d\d", line)
    assert reverse(REFRESH) in line
    _page(client, reverse(CHANGELIST))
    assert len(calls) == 1  # cached

    assert client.get(reverse(REFRESH)).status_code == 405  # a GET changes nothing
    back = reverse(CHANGELIST) + "?status__exact=sent"
    response = client.post(reverse(REFRESH), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert cache.get(CREDITS_CACHE_KEY) is None
    _page(client, reverse(CHANGELIST))
    assert len(calls) == 2
    response = client.post(reverse(REFRESH), {"next": "https://evil.example/"})
    assert response["Location"] == reverse(CHANGELIST)


def test_credits_refresh_needs_the_view_permission(db) -> None:
    user = User.objects.create_user("s", "s@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="send_smsmessage"))
    client = Client()
    client.force_login(user)
    cache.set(CREDITS_CACHE_KEY, {"ok": True, "credits": [], "money": None}, 60)
    assert client.post(reverse(REFRESH)).status_code == 403
    assert cache.get(CREDITS_CACHE_KEY) is not None


def test_add_form_marks_message_and_recipients_required(client: Client) -> None:
    html = _page(client, reverse("admin:django_smsrest_smsmessage_add"))
    assert '<label class="required" for="id_message">' in html
    assert '<label class="required" for="id_recipients">' in html
    assert re.search(r'<label (class="inline" )?for="id_sender">', html)
    assert 'aria-required="true"' in html


def _queries(client: Client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        html = _page(client, reverse(CHANGELIST) + "?all=")
    return len(ctx.captured_queries), html.count('name="_selected_action"')


def test_query_count_is_the_same_for_10_and_100_rows(client: Client) -> None:
    def add(n: int) -> None:
        for i in range(n):
            msg = services.send_sms(f"message {i} " + LONG, [NUMBER, OTHER], message_type="N")
            if i % 2:
                locmem.set_delivery_state("DLVRD", order_id=msg.order_id)
                services.refresh_status(msg)

    add(10)
    small, rows = _queries(client)
    assert rows == 10
    add(90)
    large, rows = _queries(client)
    assert rows == 100
    assert large == small
    assert SmsMessage.objects.count() == 100
