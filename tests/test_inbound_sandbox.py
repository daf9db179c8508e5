"""Received SMS end to end: services -> REST backend -> real HTTP -> the sandbox's
``newsrsmsmessage`` cursor and ``srsmshistory``; and two concurrent pollers (PostgreSQL, and
a SQLite file)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from django_smsrest import services, signals
from django_smsrest.backends import rest
from django_smsrest.models import ReceivedSms
from django_smsrest.services import inbound
from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.settings import SMSREST
from tests.test_sandbox_helpers import control

pytestmark = pytest.mark.django_db(transaction=True)

SIM = "+393400000007"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    rest.reset_clients()
    with run_sandbox() as server:
        settings = {
            **SMSREST,
            **server.smsrest_settings(),
            "BACKEND": "django_smsrest.backends.rest.RestBackend",
            "TIMEOUT": (2.0, 5.0),
        }
        with override_settings(SMSREST=settings):
            yield server
    rest.reset_clients()


def _receive(sandbox: SandboxServer, text: str, sender: str = "+393331112223") -> None:
    response = control(sandbox, "inbound", {"sender": sender, "text": text, "id_sim": SIM})
    assert response.status_code == 201, response.text


def _requests(sandbox: SandboxServer, label: str) -> int:
    count: int = sandbox.snapshot()["requests"].get(label, 0)
    return count


def test_command_receive_stores_what_the_sandbox_received(
    sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _receive(sandbox, "Ciao, confermo l'appuntamento")
    _receive(sandbox, "Annullo", sender="+393339998887")

    call_command("send_sms", "--receive")

    assert "stored: 2" in capsys.readouterr().out
    rows = list(ReceivedSms.objects.order_by("gateway_id"))
    assert [(r.sender, r.sim, r.text) for r in rows] == [
        ("+393331112223", SIM, "Ciao, confermo l'appuntamento"),
        ("+393339998887", SIM, "Annullo"),
    ]
    for row in rows:
        assert row.received_at is not None
        assert abs(row.received_at - timezone.now()) < timedelta(minutes=1)
        assert set(row.raw) == {"id", "id_sim", "phoneNumber", "text", "receivedDate"}
    assert all(m["consumed"] for m in sandbox.snapshot()["inbound"])


def test_pages_of_100_until_a_short_page(sandbox: SandboxServer) -> None:
    for n in range(150):
        _receive(sandbox, f"m{n}")

    report = services.receive_sms()

    assert (report.fetched, report.stored) == (150, 150)
    assert _requests(sandbox, "GET newsrsmsmessage") == 2  # 100, then 50
    assert _requests(sandbox, "GET srsmshistory") == 2
    assert ReceivedSms.objects.count() == 150


def test_a_crash_after_the_cursor_answered_is_recovered_from_history(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-process twin of tests/test_inbound_crash.py: the first store raises, after
    the gateway's cursor has consumed the messages."""
    for n in range(3):
        _receive(sandbox, f"m{n}")
    real_store = inbound._store
    calls = {"n": 0}

    def crash_once(items: Any, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the process died here")
        return real_store(items, *args)

    monkeypatch.setattr(inbound, "_store", crash_once)
    with pytest.raises(RuntimeError):
        services.receive_sms()
    assert ReceivedSms.objects.count() == 0
    assert all(m["consumed"] for m in sandbox.snapshot()["inbound"])

    report = services.receive_sms()

    assert (report.fetched, report.recovered) == (0, 3)
    assert sorted(ReceivedSms.objects.values_list("text", flat=True)) == ["m0", "m1", "m2"]


def test_sweep_receives_when_enabled(sandbox: SandboxServer) -> None:
    _receive(sandbox, "Ciao")
    with override_settings(SMSREST={**settings.SMSREST, "RECEIVE": True}):
        report = services.sweep()
    assert report.received == 1 and ReceivedSms.objects.get().text == "Ciao"


def _in_memory_sqlite() -> bool:
    return connection.vendor == "sqlite" and connection.is_in_memory_db()


@pytest.mark.skipif(_in_memory_sqlite(), reason="runs in test_two_pollers_on_a_sqlite_file")
def test_two_concurrent_pollers_store_each_message_once(sandbox: SandboxServer) -> None:
    for n in range(250):
        _receive(sandbox, f"m{n}")
    announced: list[int] = []
    lock = threading.Lock()

    def receiver(sender: Any, message: ReceivedSms, **kwargs: Any) -> None:
        with lock:
            announced.append(message.pk)

    barrier = threading.Barrier(2)
    reports: list[Any] = [None, None]

    def poll(i: int) -> None:
        try:
            barrier.wait()
            reports[i] = services.receive_sms()
        except BaseException as exc:
            reports[i] = exc
        finally:
            connections.close_all()

    signals.sms_received.connect(receiver, weak=False)
    try:
        threads = [threading.Thread(target=poll, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        signals.sms_received.disconnect(receiver)

    assert not [r for r in reports if isinstance(r, BaseException)], reports
    assert ReceivedSms.objects.count() == 250
    assert ReceivedSms.objects.values("gateway_id").distinct().count() == 250
    assert sum(r.stored for r in reports) == 250  # each row counted by exactly one poller
    assert sorted(announced) == sorted(ReceivedSms.objects.values_list("pk", flat=True))
    # Both pollers re-read the same history: the overlap was real.
    assert sum(r.history_read for r in reports) >= 250


@pytest.mark.skipif(not _in_memory_sqlite(), reason="the test above runs on this database")
def test_two_pollers_on_a_sqlite_file(tmp_path: Path) -> None:
    """The two-pollers test on SQLite, as a deployment runs it: a file that each thread
    opens on its own connection. (The in-memory test database is shared between threads
    only in SQLite's shared-cache mode, whose table locks fail at once instead of waiting
    the busy timeout: a limit of the test database, not of the code.)"""
    env = {**os.environ, "SMSREST_TEST_SQLITE": str(tmp_path / "pollers.sqlite3")}
    test = f"{__file__}::test_two_concurrent_pollers_store_each_message_once"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            test,
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout
