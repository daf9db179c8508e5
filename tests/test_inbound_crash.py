"""kill -9 a ``send_sms --receive`` between the gateway's answer and its commit: nothing lost.

The gateway is the sandbox (its ``newsrsmsmessage`` cursor consumes what it returns); the
poller is a real ``python -m django send_sms --receive`` process on a database of its own
(a SQLite file, or a throw-away PostgreSQL database on the PostgreSQL pass). The test holds
the database's write lock, so the poller gets its answer from the cursor and then waits to
commit; once the sandbox shows the messages consumed, the poller is killed with SIGKILL (no
``finally``, nothing written). The next ``--receive`` finds them with ``srsmshistory``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.reliability import REPO, _pg_connect, own_database, run_checked, worker_env
from tests.reliability import using_postgres as _using_postgres
from tests.test_sandbox_helpers import control

pytestmark = [pytest.mark.slow]

SENDER = "+393331112223"
LIST_ROWS = (
    "import json; from django_smsrest.models import ReceivedSms as R; "
    "print(json.dumps(list(R.objects.order_by('gateway_id').values_list('gateway_id', 'text'))))"
)


def _rows(db: str, smsrest: dict[str, Any]) -> list[list[str]]:
    out = run_checked(["-m", "django", "shell", "-c", LIST_ROWS], worker_env(db, smsrest))
    rows: list[list[str]] = json.loads(out.strip().splitlines()[-1])
    return rows


@contextmanager
def write_lock(db: str) -> Iterator[None]:
    """Hold the database's write lock on the received-SMS table (reads still work)."""
    kind, _, name = db.partition(":")
    if kind == "sqlite":
        conn = sqlite3.connect(name, isolation_level=None, timeout=20)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with _pg_connect(name) as pg:
        pg.execute("BEGIN")
        pg.execute("LOCK TABLE django_smsrest_receivedsms IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg.execute("ROLLBACK")


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _receive(sandbox: SandboxServer, text: str) -> None:
    response = control(sandbox, "inbound", {"sender": SENDER, "text": text})
    assert response.status_code == 201, response.text


def test_poller_killed_after_the_cursor_answered_loses_nothing() -> None:
    kind = "postgres" if _using_postgres() else "sqlite"
    with own_database(kind) as db, run_sandbox() as sandbox:
        smsrest = {**sandbox.smsrest_settings(), "TIMEOUT": [2.0, 5.0]}
        env = worker_env(db, smsrest)
        for n in range(3):
            _receive(sandbox, f"before {n}")
        run_checked(["-m", "django", "send_sms", "--receive"], env)
        assert [text for _id, text in _rows(db, smsrest)] == ["before 0", "before 1", "before 2"]

        for n in range(3):
            _receive(sandbox, f"lost {n}")
        with write_lock(db):
            poller = subprocess.Popen(
                [sys.executable, "-m", "django", "send_sms", "--receive"],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            _wait_for(
                lambda: all(m["consumed"] for m in sandbox.snapshot()["inbound"]),
                30,
                "the poller's GET newsrsmsmessage to consume the new messages",
            )
            time.sleep(0.3)  # it is now waiting for the lock, answer in hand
            assert poller.poll() is None, poller.communicate()
            os.kill(poller.pid, signal.SIGKILL)
            poller.communicate(timeout=10)
            assert poller.returncode == -signal.SIGKILL

        assert len(_rows(db, smsrest)) == 3  # the killed poller stored nothing
        # The gateway's cursor will never return them again.
        assert all(m["consumed"] for m in sandbox.snapshot()["inbound"])

        out = run_checked(["-m", "django", "send_sms", "--receive"], env)

        assert "fetched: 0; stored: 3; recovered: 3" in out, out
        rows = _rows(db, smsrest)
        assert sorted(text for _id, text in rows) == [
            "before 0",
            "before 1",
            "before 2",
            "lost 0",
            "lost 1",
            "lost 2",
        ]
        assert len({gid for gid, _text in rows}) == 6
        # A further poll finds nothing new: each message is stored once.
        again = run_checked(["-m", "django", "send_sms", "--receive"], env)
        assert "stored: 0" in again and len(_rows(db, smsrest)) == 6
