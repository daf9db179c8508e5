"""The admin dashboard (issue 17 item 4): per-day outcomes, delivery rate, median time to
delivery, failure reasons linking to the changelist, the queue, credits over time with a
"runs out around" estimate; a constant number of queries from 10 to 100,000 rows."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_smsrest.admin import dashboard
from django_smsrest.models import SmsMessage, Status
from tests.dashboard_seed import seed

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:django_smsrest_smsmessage_dashboard"
CHANGELIST = "admin:django_smsrest_smsmessage_changelist"


@pytest.fixture
def client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def _get(client: Client, url: str) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(ctx.captured_queries)


def _marks(html: str, series: str) -> list[int]:
    return [int(v) for v in re.findall(rf'data-series="{series}" data-value="(\d+)"', html)]


def _make(status: str, *, days_ago: int = 0, error: str = "", **fields) -> SmsMessage:
    msg = SmsMessage.objects.create(message="x", message_type="N", status=status, **fields)
    created = timezone.now() - timedelta(days=days_ago)
    SmsMessage.objects.filter(pk=msg.pk).update(created_at=created, last_error=error)
    return msg


def test_figures_match_the_rows(client: Client) -> None:
    now = timezone.now()
    sent = now - timedelta(minutes=30)
    for minutes in (1, 2, 10):  # median 2 minutes
        _make(
            Status.DELIVERED,
            days_ago=1,
            sent_at=sent,
            finished_at=sent + timedelta(minutes=minutes),
        )
    _make(Status.FAILED, days_ago=1, error="Login refused")
    _make(Status.FAILED, days_ago=2, error="Login refused")
    _make(Status.UNDELIVERED, days_ago=2, error="")
    _make(Status.QUEUED, next_attempt_at=now - timedelta(hours=2))
    _make(Status.QUEUED, next_attempt_at=now + timedelta(hours=2))
    _make(Status.DELIVERED, days_ago=40)  # outside the 30 days

    html, _ = _get(client, reverse(DASHBOARD))
    assert sum(_marks(html, "delivered")) == 3
    assert sum(_marks(html, "failed")) == 3
    assert sum(_marks(html, "pending")) == 2
    assert "50.0&nbsp;%" in html  # 3 delivered of 6 settled
    assert "2 min 00 s" in html
    board = dashboard.build()
    assert board.queue["waiting"] == 2 and board.queue["due"] == 1
    assert [(r["reason"], r["count"]) for r in board.reasons] == [("Login refused", 2), ("", 1)]
    # Accessible: each chart has a title and a description it is labelled by.
    assert html.count('role="img"') == 2  # no credits reported: no credit chart
    for chart in re.findall(r'<svg class="smsrest-chart[^>]*>', html):
        ids = re.search(r'aria-labelledby="([^"]+)"', chart).group(1).split()
        for ident in ids:
            assert f'id="{ident}"' in html


def test_failure_reason_links_lead_to_the_filtered_changelist(client: Client) -> None:
    wrong = [_make(Status.FAILED, error="Login refused") for _ in range(3)]
    blank = _make(Status.UNDELIVERED, error="")
    _make(Status.FAILED, error="Invalid sender")
    _make(Status.DELIVERED, error="")
    _make(Status.FAILED, days_ago=45, error="Login refused")  # before the period
    html, _ = _get(client, reverse(DASHBOARD))
    links = sorted(set(re.findall(r'<a class="smsrest-reason" href="([^"]+)"', html)))
    assert len(links) == 3
    found = {}
    for link in links:
        page, _ = _get(client, unescape(link))
        found[link] = sorted(
            int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', page)
        )
    assert sorted(found.values()) == sorted(
        [
            sorted(m.pk for m in wrong),
            [blank.pk],
            [SmsMessage.objects.get(last_error="Invalid sender").pk],
        ]
    )


def test_credits_chart_and_runs_out_estimate(client: Client) -> None:
    now = timezone.now()
    for day in range(6, -1, -1):  # 1000 credits lost per day, 3000 left today
        SmsMessage.objects.create(
            message="x",
            message_type="N",
            status=Status.SENT,
            sent_at=now - timedelta(days=day),
            remaining_credits=3000 + 1000 * day,
        )
    board = dashboard.build(now=now)
    assert board.runs_out["N"].when == timezone.localdate(now) + timedelta(days=3)
    html, _ = _get(client, reverse(DASHBOARD))
    assert _marks(html, "N") == [9000, 8000, 7000, 6000, 5000, 4000, 3000]
    assert "runs out around" in html


def test_needs_the_view_permission(db) -> None:
    user = User.objects.create_user("s", "s@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="send_smsmessage"))
    client = Client()
    client.force_login(user)
    assert client.get(reverse(DASHBOARD)).status_code == 403
    anonymous = Client().get(reverse(DASHBOARD))
    assert anonymous.status_code == 302 and reverse("admin:login") in anonymous["Location"]
    user.user_permissions.add(Permission.objects.get(codename="view_smsmessage"))
    assert client.get(reverse(DASHBOARD)).status_code == 200


def test_linked_from_the_changelist_and_in_italian(client: Client) -> None:
    html, _ = _get(client, reverse(CHANGELIST))
    assert reverse(DASHBOARD) in html
    _make(Status.FAILED, error="x")
    page = client.get(reverse(DASHBOARD), HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Messaggi al giorno per esito" in page
    assert "Fallimenti per motivo" in page


def _count_constant(client: Client, rows: int) -> None:
    seed(10)
    html, small = _get(client, reverse(DASHBOARD))
    assert small <= 10  # session, user, one per figure, workers panel (2), purged tallies
    SmsMessage.objects.all().delete()
    started = time.monotonic()
    seed(rows)
    seeded = time.monotonic() - started
    assert SmsMessage.objects.count() == rows
    started = time.monotonic()
    html, large = _get(client, reverse(DASHBOARD))
    elapsed = time.monotonic() - started
    assert large == small
    keys = ("delivered", "sent", "scheduled", "pending", "failed", "cancelled")
    assert sum(sum(_marks(html, key)) for key in keys) == rows
    assert len(re.findall(r'<a class="smsrest-reason"', html)) == 5
    print(
        f"\n{rows:,} rows: seeded in {seeded:.1f}s, dashboard in {elapsed:.2f}s, {large} queries"
    )


def test_query_count_is_the_same_for_10_and_2000_rows(client: Client) -> None:
    _count_constant(client, 2000)


@pytest.mark.slow
def test_query_count_is_the_same_for_10_and_100000_rows(client: Client) -> None:
    _count_constant(client, 100_000)


# --- issue 24 item 2: the figures say what the rows say -------------------------------------


def test_delivery_rate_is_rounded_not_truncated(client: Client) -> None:
    for _ in range(7):
        _make(Status.DELIVERED)
    for _ in range(2):
        _make(Status.FAILED, error="x")
    html, _ = _get(client, reverse(DASHBOARD))
    assert "77.8&nbsp;%" in html  # 7 of 9 = 77.78 %
    assert "77.7&nbsp;%" not in html


def test_an_undelivered_message_shows_its_delivery_reason(client: Client) -> None:
    from django_smsrest.models import SmsOrder, SmsRecipient

    msg = _make(Status.UNDELIVERED)
    order = SmsOrder.objects.create(message=msg, index=0, order_id="a" * 32)
    SmsRecipient.objects.create(
        message=msg, order=order, phone_number="+393470000001", state="UNKNRCPT"
    )
    board = dashboard.build(changelist_url=reverse(CHANGELIST))
    [reason] = board.reasons
    assert reason["label"] == "Unknown recipient (UNKNRCPT)"
    assert reason["count"] == 1
    html, _ = _get(client, reverse(DASHBOARD))
    assert "Unknown recipient (UNKNRCPT)" in html
    assert "(no error text)" not in html
    # The link lists that message.
    page, _ = _get(client, reason["url"])
    assert re.findall(r'name="_selected_action" value="(\d+)"', page) == [str(msg.pk)]


def test_a_message_scheduled_for_later_is_not_awaiting_receipt(client: Client) -> None:
    now = timezone.now()
    _make(Status.SCHEDULED, scheduled_delivery_time=now + timedelta(days=30))
    _make(Status.SCHEDULED, scheduled_delivery_time=now - timedelta(minutes=5))
    _make(Status.SENT)
    board = dashboard.build(now=now)
    assert board.totals["sent"] == 2  # awaiting receipt: sent, or due and not yet reported
    assert board.totals["scheduled"] == 1
    html, _ = _get(client, reverse(DASHBOARD))
    assert sum(_marks(html, "sent")) == 2
    assert sum(_marks(html, "scheduled")) == 1


def test_credits_going_down_within_one_day_are_going_down(client: Client) -> None:
    now = timezone.now().replace(hour=13, minute=0)
    for hours_ago, left in ((5, 100_000), (3, 99_990), (1, 99_983)):
        SmsMessage.objects.create(
            message="x",
            message_type="N",
            status=Status.SENT,
            sent_at=now - timedelta(hours=hours_ago),
            remaining_credits=left,
        )
    board = dashboard.build(now=now)
    trend = board.runs_out["N"]
    # 17 credits in 4 hours: about 102 a day, 99,983 left: about 980 days.
    assert trend.going_down
    assert trend.when is not None
    assert 900 < (trend.when - timezone.localdate(now)).days < 1100
    with timezone.override(timezone.get_current_timezone()):
        html = client.get(reverse(DASHBOARD)).content.decode()
    assert "not going down" not in html


def test_credits_reported_seconds_apart_are_no_trend(client: Client) -> None:
    now = timezone.now()
    for seconds_ago, left in ((10, 1_000_000), (0, 999_998)):
        SmsMessage.objects.create(
            message="x",
            message_type="N",
            status=Status.SENT,
            sent_at=now - timedelta(seconds=seconds_ago),
            remaining_credits=left,
        )
    assert dashboard.build(now=now).runs_out["N"] == dashboard.Trend(enough=False)


def test_credits_with_one_report_say_so(client: Client) -> None:
    SmsMessage.objects.create(
        message="x",
        message_type="N",
        status=Status.SENT,
        sent_at=timezone.now(),
        remaining_credits=500,
    )
    html, _ = _get(client, reverse(DASHBOARD))
    assert "not going down" not in html
    assert "not enough reports" in html
