"""A ``send_sms --loop`` worker as a real process, for the worker tests (not a test module).

The process runs ``python -m django send_sms --loop`` with :mod:`tests.loop_worker_settings`
on a database of its own (:func:`tests.reliability.own_database`), against a sandbox
process; the test reads the database directly (psycopg or sqlite3), never through Django,
whose test database the worker could not see.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from tests.reliability import REPO, _pg_connect, worker_env


class LoopWorker:
    """``send_sms --loop`` in a process of its own, its output going to temporary files (a
    pipe nobody reads while it runs would fill up and block it)."""

    def __init__(self, db: str, smsrest: dict[str, Any], *, interval: float = 0.2) -> None:
        env = worker_env(db, smsrest)
        env["DJANGO_SETTINGS_MODULE"] = "tests.loop_worker_settings"
        self._out = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by stop)
        self._err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "django", "send_sms", "--loop", "--interval", str(interval)],
            cwd=REPO,
            env=env,
            stdout=self._out,
            stderr=self._err,
            text=True,
        )

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stderr_so_far(self) -> str:
        self._err.seek(0)
        return str(self._err.read())

    def stop(self, timeout: float = 30) -> tuple[int, str, str]:
        """Wait for the exit: (exit code, stdout, stderr); killed if it hangs."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"the worker did not exit in {timeout} s\n{self.stderr_so_far()}"
            ) from None
        self._out.seek(0)
        out = str(self._out.read())
        err = self.stderr_so_far()
        self._out.close()
        self._err.close()
        return self.proc.returncode, out, err


def query(db: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the run's database (``%s`` placeholders on both kinds)."""
    kind, _sep, name = db.partition(":")
    if kind == "postgres":
        with _pg_connect(name) as conn:
            return list(conn.execute(sql, params).fetchall())
    with sqlite3.connect(name, timeout=20) as conn:
        return list(conn.execute(sql.replace("%s", "?"), params).fetchall())


def statuses(db: str) -> dict[str, int]:
    rows = query(db, "SELECT status, COUNT(*) FROM django_smsrest_smsmessage GROUP BY status")
    return {str(status): int(n) for status, n in rows}


def kill_connections(db: str) -> int:
    """``pg_terminate_backend`` every connection to the run's PostgreSQL database (the
    worker's); how many were killed."""
    kind, _sep, name = db.partition(":")
    assert kind == "postgres", db
    with _pg_connect() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return sum(1 for (killed,) in rows if killed)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
