"""Scheduled times around daylight-saving changes are sent unambiguously (issue 13 item 8).

The gateway documents ``scheduled_delivery_time`` as a wall-clock string (``yyyyMMddHHmmss``
and friends) read in the IANA zone ``scheduled_delivery_timezone``; it documents no offset
syntax. In Europe/Rome the autumn fold makes 02:00-02:59 happen twice: on 2031-10-26
both 00:30Z (02:30 CEST) and 01:30Z (02:30 CET) are "20311026023000", and a gateway that
resolves it to the first one (Java's ``atZone`` does) sends the second an hour early. At
the fold the client sends the time in UTC (a documented IANA zone, no fold, no gap).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from datetime import timezone as fixed
from zoneinfo import ZoneInfo

import pytest
import responses

from django_smsrest.client import SmsRestClient
from tests.test_client import BASE, PASSWORD, SEND_OK, SMS_URL, USERNAME, add_login, calls_to

ROME = ZoneInfo("Europe/Rome")

sandbox_helpers = pytest.importorskip("django_smsrest.testing.sandbox")
smsrest_sandbox = sandbox_helpers.smsrest_sandbox


@pytest.fixture
def gw():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def sent_schedule(gw, when: datetime, zone: str = "Europe/Rome") -> tuple[str, str]:
    client = SmsRestClient(BASE, USERNAME, PASSWORD, gateway_timezone=zone)
    add_login(gw)
    gw.add(responses.POST, SMS_URL, json=SEND_OK, status=201)
    client.send_sms("Hi", ["+393471234567"], message_type="N", scheduled_delivery_time=when)
    body = json.loads(calls_to(gw, "POST", SMS_URL)[-1].request.body)
    return body["scheduled_delivery_time"], body["scheduled_delivery_timezone"]


def instant(text: str, zone: str, fold: int = 0) -> datetime:
    """What a reader of (text, zone) understands; ``fold`` picks one side of a fold."""
    local = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=ZoneInfo(zone), fold=fold)
    return local.astimezone(UTC)


@pytest.mark.parametrize(
    "when",
    [
        datetime(2031, 10, 26, 1, 30, tzinfo=UTC),  # 02:30 CET, the second 02:30
        datetime(2031, 10, 26, 0, 30, tzinfo=UTC),  # 02:30 CEST, the first 02:30
        datetime(2031, 10, 26, 2, 30, tzinfo=ROME).replace(fold=1),  # same as 01:30Z
        datetime(2031, 10, 26, 2, 30, tzinfo=fixed(timedelta(hours=1))),  # explicit +01:00
        datetime(2031, 10, 26, 0, 0, tzinfo=UTC),  # 02:00 CEST, the edge of the fold
        datetime(2031, 10, 26, 1, 59, 59, tzinfo=UTC),  # 02:59:59 CET
    ],
)
def test_a_time_in_the_autumn_fold_is_sent_without_ambiguity(gw, when):
    text, zone = sent_schedule(gw, when)
    # Whichever side of a fold a reader picks, it is the instant we meant.
    assert instant(text, zone, fold=0) == instant(text, zone, fold=1) == when.astimezone(UTC)
    assert zone == "UTC"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2031, 10, 26, 2, 30, tzinfo=UTC), "20311026033000"),  # 03:30 CET: after
        (datetime(2031, 10, 25, 23, 59, tzinfo=UTC), "20311026015900"),  # 01:59 CEST: before
        (datetime(2031, 3, 30, 1, 30, tzinfo=UTC), "20310330033000"),  # 03:30 CEST
        (datetime(2031, 3, 30, 0, 59, tzinfo=UTC), "20310330015900"),  # 01:59 CET
    ],
)
def test_around_the_changes_the_gateway_zone_is_kept(gw, when, expected):
    assert sent_schedule(gw, when) == (expected, "Europe/Rome")
    assert instant(expected, "Europe/Rome") == when


def test_a_wall_clock_time_in_the_spring_gap_is_sent_as_the_instant_it_means(gw):
    # 02:30 on 2031-03-30 does not exist in Rome; zoneinfo reads it with the offset before
    # the change (+01:00), i.e. 01:30Z, which is 03:30 CEST: a time that exists, once.
    missing = datetime(2031, 3, 30, 2, 30, tzinfo=ROME)
    text, zone = sent_schedule(gw, missing)
    assert (text, zone) == ("20310330033000", "Europe/Rome")
    assert (
        instant(text, zone) == missing.astimezone(UTC) == datetime(2031, 3, 30, 1, 30, tzinfo=UTC)
    )


def test_history_filters_at_the_fold_are_sent_in_utc(gw):
    client = SmsRestClient(BASE, USERNAME, PASSWORD)
    add_login(gw)
    gw.add(responses.GET, BASE + "smshistory", json={"total": 0, "smshistory": []})
    client.get_history(
        datetime(2031, 10, 26, 1, 30, tzinfo=UTC), datetime(2031, 10, 26, 12, 0, tzinfo=UTC)
    )
    query = calls_to(gw, "GET", BASE + "smshistory")[0].request.params
    assert (query["from"], query["to"], query["timezone"]) == (
        "20311026013000",
        "20311026120000",
        "UTC",
    )


@pytest.mark.parametrize(
    "when",
    [
        datetime(2031, 10, 26, 0, 30, tzinfo=UTC),
        datetime(2031, 10, 26, 1, 30, tzinfo=UTC),
        datetime(2031, 3, 30, 2, 30, tzinfo=ROME),  # in the spring gap: 01:30Z
    ],
)
def test_the_sandbox_schedules_the_instant_we_meant(smsrest_sandbox, when):
    """Over a real socket: the sandbox reads what was sent and records the same instant."""
    client = SmsRestClient(
        smsrest_sandbox.base_url, smsrest_sandbox.username, smsrest_sandbox.password
    )
    with client:
        result = client.send_sms(
            "Hi", ["+393471234567"], message_type="N", scheduled_delivery_time=when
        )
    [order] = [o for o in smsrest_sandbox.orders() if o["order_id"] == result.order_id]
    recorded = datetime.fromisoformat(order["scheduled_delivery_time"])
    assert recorded == when.astimezone(UTC)
