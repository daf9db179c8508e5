"""The provider's own quick-start client (tests/seed_quickstart.py) against the sandbox.

The script is run as a subprocess, unchanged but for the base URL and credentials, over a
real loopback socket: if the sandbox drifts from what the provider's example expects (the
login answer format, 201 on send, the ISO 8601 date that ``datetime.isoformat()`` writes),
this fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from django_smsrest.testing.sandbox import SandboxServer, run_sandbox

SCRIPT = Path(__file__).with_name("seed_quickstart.py")


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(username="seed-user", password="seed-pass-42") as server:
        yield server


def _run(sandbox: SandboxServer, password: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SMSREST_BASE_URL": sandbox.base_url,
        "SMSREST_USERNAME": sandbox.username,
        "SMSREST_PASSWORD": password,
        # The example schedules "now + 5 minutes" in the machine's local time, without a
        # zone, and the gateway reads naive times as Europe/Rome: run it as a user in Italy.
        "TZ": "Europe/Rome",
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def test_seed_example_sends_a_scheduled_sms(sandbox: SandboxServer) -> None:
    result = _run(sandbox, sandbox.password)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SMS sent!"
    [order] = sandbox.orders()
    assert order["message"] == "Hello world!"
    assert order["message_type"] == "N"
    assert order["recipients"] == ["+349123456789"]
    assert order["sender"] == ""
    assert [s["status"] for s in order["states"]] == ["SCHEDULED"]
    scheduled = datetime.fromisoformat(order["scheduled_delivery_time"])
    created = datetime.fromisoformat(order["created_at"])
    # About five minutes after it was received (the margin covers the script's run time).
    # The sandbox keeps created_at to the millisecond, the script's time to the microsecond.
    assert timedelta(minutes=4) < scheduled - created <= timedelta(minutes=5, milliseconds=1)
    assert sandbox.post_count(order["order_id"]) == 1
    assert sandbox.snapshot()["logins"] == 1


def test_seed_example_reports_a_failed_login(sandbox: SandboxServer) -> None:
    result = _run(sandbox, "not-the-password")

    assert result.stdout.strip() == "Unable to login.."
    assert result.returncode != 0
    assert sandbox.orders() == []
