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
    assert board.runs_out["N"] == timezone.localdate(now) + timedelta(days=3)
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
    assert small <= 8  # session, user, one query per figure, one for purged tallies
    SmsMessage.objects.all().delete()
    started = time.monotonic()
    seed(rows)
    seeded = time.monotonic() - started
    assert SmsMessage.objects.count() == rows
    started = time.monotonic()
    html, large = _get(client, reverse(DASHBOARD))
    elapsed = time.monotonic() - started
    assert large == small
    keys = ("delivered", "sent", "pending", "failed", "cancelled")
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
