"""Scheduled times that are not in the future (issue 14, item 1), over a real socket.

The documentation does not say the real gateway refuses a past ``scheduled_delivery_time``;
the sandbox sends such an order at once by default and notes it on its page and in its
inspection record; ``strict_schedule`` (``--strict-schedule``) turns the 400 back on.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from django_smsrest.testing.sandbox import SandboxServer, run_sandbox, start_sandbox_process
from tests.test_sandbox_helpers import Api, control

ROME = ZoneInfo("Europe/Rome")
PAST = "20200101120000"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(step=10.0) as server:
        yield server


def _states(api: Api, order_id: str) -> list[str]:
    return [r["status"] for r in api.get("sms/" + order_id).json()["recipients"]]


def test_a_past_time_is_sent_at_once_by_default_and_the_page_says_so(
    sandbox: SandboxServer,
) -> None:
    api = Api(sandbox)

    response = api.send(scheduled_delivery_time=PAST)

    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    assert _states(api, order_id) == ["WAITING"]
    sandbox.advance(10)
    assert _states(api, order_id) == ["SENT"]
    [order] = sandbox.orders()
    assert order["scheduled_delivery_time"] is None
    assert "2020-01-01 12:00:00 CET" in order["schedule_note"]
    assert "sent at once" in order["schedule_note"]
    assert "was not in the future: sent at once" in control(sandbox, "").text


def test_a_present_time_is_sent_at_once(sandbox: SandboxServer) -> None:
    api = Api(sandbox)
    now = datetime.now(ROME).strftime("%Y%m%d%H%M%S")

    order_id = api.send(scheduled_delivery_time=now).json()["order_id"]

    assert _states(api, order_id) == ["WAITING"]


def test_a_future_time_has_no_note(sandbox: SandboxServer) -> None:
    api = Api(sandbox)
    later = (datetime.now(ROME) + timedelta(hours=1)).strftime("%Y%m%d%H%M%S")

    order_id = api.send(scheduled_delivery_time=later).json()["order_id"]

    assert _states(api, order_id) == ["SCHEDULED"]
    assert sandbox.orders()[0]["schedule_note"] is None


def test_strict_schedule_through_the_config_endpoint_refuses_a_past_time(
    sandbox: SandboxServer,
) -> None:
    assert control(sandbox, "config", {"strict_schedule": True}).json()["strict_schedule"]

    response = Api(sandbox).send(scheduled_delivery_time=PAST)

    assert response.status_code == 400
    assert response.json()["code"] == "DATE_IN_PAST"
    assert "in the past" in response.json()["error_message"]
    assert sandbox.orders() == []


def test_strict_schedule_keeps_the_grace(sandbox: SandboxServer) -> None:
    sandbox.configure(strict_schedule=True)
    api = Api(sandbox)
    just_now = (datetime.now(ROME) - timedelta(seconds=5)).strftime("%Y%m%d%H%M%S")

    order_id = api.send(scheduled_delivery_time=just_now).json()["order_id"]

    assert _states(api, order_id) == ["WAITING"]


@pytest.mark.parametrize("value", ["maybe", 2])
def test_strict_schedule_takes_only_booleans(sandbox: SandboxServer, value: object) -> None:
    response = control(sandbox, "config", {"strict_schedule": value})

    assert response.status_code == 400
    assert "strict_schedule must be true or false" in response.json()["error_message"]


def test_the_command_line_switch_refuses_a_past_time() -> None:
    with start_sandbox_process(strict_schedule=True) as process:
        assert process.configure()["strict_schedule"] is True
        api = Api(process)  # type: ignore[arg-type]
        response = api.send(scheduled_delivery_time=PAST)

    assert response.status_code == 400
    assert response.json()["code"] == "DATE_IN_PAST"


def test_the_bare_flag_means_true() -> None:
    from django_smsrest.sandbox.__main__ import build_parser

    args = build_parser().parse_args(["--strict-schedule"])
    off = build_parser().parse_args(["--strict-schedule", "false"])
    default = build_parser().parse_args([])

    assert args.strict_schedule == "true"
    assert off.strict_schedule == "false"
    assert default.strict_schedule is None
    help_text = subprocess.run(
        [sys.executable, "-m", "django_smsrest.sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert "--strict-schedule [BOOL]" in help_text
