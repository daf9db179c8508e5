"""Shared machinery of the multi-process reliability tests (not a test module).

A run = one database of its own (a temporary SQLite file, or a PostgreSQL database created
for the run and dropped after it), migrated by a ``migrate`` subprocess, seeded by a
subprocess, then N worker processes (:mod:`tests.reliability_worker`) flushing and sweeping
the same queue against ONE sandbox gateway process. pytest-django's own test database is
not involved (the workers could not see it), so these tests take no ``db`` fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

#: Answers to a ``POST sms`` that prove the gateway did NOT accept the order.
REFUSED = (429, 401, 500)
#: Answers after which the order is stored at the gateway.
ACCEPTED = (201, "drop", "timeout")


def using_postgres() -> bool:
    return os.environ.get("SMSREST_TEST_DB") == "postgres"


def _pg_connect(dbname: str = "postgres") -> Any:
    import psycopg

    return psycopg.connect(
        dbname=dbname,
        user=os.environ.get("SMSREST_TEST_PG_USER", "postgres"),
        password=os.environ.get("SMSREST_TEST_PG_PASSWORD", ""),
        host=os.environ.get("SMSREST_TEST_PG_HOST", "127.0.0.1"),
        port=os.environ.get("SMSREST_TEST_PG_PORT", "5432"),
        autocommit=True,
        connect_timeout=5,
    )


@contextmanager
def own_database(kind: str) -> Iterator[str]:
    """A fresh, migrated database for one run; yields the ``SMSREST_RELIABILITY_DB`` value.

    ``sqlite``: a temporary file (WAL, IMMEDIATE, busy timeout: see worker_settings).
    ``postgres``: ``smsrest_reliability_<pid>_<n>``, created here and dropped afterwards.
    """
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="smsrest-reliability-") as tmp:
            value = f"sqlite:{tmp}/outbox.sqlite3"
            migrate(value)
            yield value
        return
    name = f"smsrest_reliability_{os.getpid()}_{time.monotonic_ns() % 1_000_000}"
    with _pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        value = f"postgres:{name}"
        migrate(value)
        yield value
    finally:
        with _pg_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def worker_env(db: str, smsrest: dict[str, Any] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "SMSREST_RELIABILITY_DB": db,
        "SMSREST_RELIABILITY_SMSREST": json.dumps(smsrest or {}),
        "PYTHONPATH": str(REPO),
    }
    return env


def run_checked(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    """Run a short subprocess from the repository root; its stdout, or fail loudly."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def migrate(db: str) -> None:
    run_checked(["-m", "django", "migrate", "-v0"], worker_env(db))


def seed(db: str, count: int, smsrest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Queue ``count`` messages (``smsrest``: e.g. ``MAX_RECIPIENTS_PER_ORDER``)."""
    env = worker_env(db, smsrest)
    out = run_checked(["-m", "tests.reliability_worker", "seed", str(count)], env)
    return dict(json.loads(out))


def db_report(db: str) -> dict[str, Any]:
    out = run_checked(["-m", "tests.reliability_worker", "report"], worker_env(db))
    return dict(json.loads(out))


def start_worker(db: str, smsrest: dict[str, Any], deadline: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability_worker", "work", "--deadline", str(deadline)],
        cwd=REPO,
        env=worker_env(db, smsrest),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class RunResult:
    seconds: float
    workers: list[dict[str, Any]]
    report: dict[str, Any]
    snapshot: dict[str, Any]
    expired_sessions: int = 0

    @property
    def requests(self) -> Counter[str]:
        return Counter(self.snapshot["requests"])

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


@dataclass
class Chaos:
    """Faults for a run: sandbox options, plus ``expire_every`` seconds between two
    ``expire_sessions`` (every session key issued so far dies; the workers must log in
    again on the 401 and repeat their call)."""

    options: dict[str, Any] = field(default_factory=dict)
    expire_every: float | None = None


def run_workers(
    db: str,
    sandbox: Any,
    *,
    workers: int,
    smsrest: dict[str, Any],
    chaos: Chaos | None = None,
    deadline: float = 150.0,
) -> RunResult:
    """Start ``workers`` worker processes on ``db`` against ``sandbox``; wait for all."""
    chaos = chaos or Chaos()
    if chaos.options:
        sandbox.configure(**chaos.options)
    conf = {**sandbox.smsrest_settings(), **smsrest}
    started = time.monotonic()
    procs = [start_worker(db, conf, deadline) for _ in range(workers)]
    stop = threading.Event()
    expired = 0

    def expire_sessions() -> None:
        nonlocal expired
        assert chaos.expire_every is not None
        while not stop.wait(chaos.expire_every):
            sandbox.configure(expire_sessions=True)
            expired += 1

    expirer = threading.Thread(target=expire_sessions, daemon=True)
    if chaos.expire_every:
        expirer.start()
    outputs: list[dict[str, Any]] = []
    failures: list[str] = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=deadline + 30)
            if proc.returncode != 0:
                failures.append(f"worker {proc.pid} exited {proc.returncode}:\n{out}\n{err}")
            elif err.strip():
                # The app logs warnings/errors to stderr; show them, they explain figures.
                print(f"[worker {proc.pid} stderr]\n{err[-2000:]}")
            if out.strip():
                outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        stop.set()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    seconds = time.monotonic() - started
    if chaos.expire_every:
        expirer.join(5)
    assert not failures, "\n".join(failures)
    sandbox.configure(**_faults_off(chaos.options))
    return RunResult(seconds, outputs, db_report(db), sandbox.snapshot(), expired)


def _faults_off(options: dict[str, Any]) -> dict[str, Any]:
    off: dict[str, Any] = {}
    for name in options:
        if name.endswith(("_rate", "_next")):
            off[name] = 0
    return off


def assert_exactly_once(result: RunResult, *, messages: int, faulted: bool) -> dict[str, int]:
    """The invariants of every run; returns the POST answers seen, by kind.

    * nothing lost: every message SENT, every order ACCEPTED, the sandbox holds exactly the
      database's order ids and as many recipients as the database;
    * nothing twice: no POST of an order id after the gateway accepted it (the sandbox
      answers such a POST with 400 DUPLICATE_ORDER_ID, so there is no 400 anywhere, and
      every answer before the last one is a refusal). Without faults: one POST per order.
    """
    report, snapshot = result.report, result.snapshot
    assert report["messages"] == messages
    assert report["statuses"] == {"sent": messages}, report["problems"]
    db_orders = {order_id for order_id, _status in report["orders"]}
    assert len(db_orders) == len(report["orders"])
    assert {status for _id, status in report["orders"]} == {"accepted"}, report.get(
        "orders_not_accepted"
    )
    gateway = snapshot["orders"]
    gateway_ids = [order["order_id"] for order in gateway]
    assert len(gateway_ids) == len(set(gateway_ids)) == len(db_orders)
    assert set(gateway_ids) == db_orders
    assert set(snapshot["post_counts"]) == db_orders  # no POST for an unknown order id
    assert sum(len(order["recipients"]) for order in gateway) == report["recipients"]
    assert report["total_sent_mismatch"] == [], report["total_sent_mismatch"]
    assert report["total_sent"] == report["recipients"], (
        report["total_sent"],
        report["recipients"],
    )

    answers: Counter[str] = Counter()
    for order in gateway:
        posts = order["post_answers"]
        assert posts, order["order_id"]
        last = posts[-1]
        accepted_by = last in ACCEPTED or (last == 500 and order["fault"] == "error_after")
        assert accepted_by, (order["order_id"], posts, order["fault"])
        assert all(answer in REFUSED for answer in posts[:-1]), (order["order_id"], posts)
        assert 400 not in posts
        for i, answer in enumerate(posts):
            kind = str(answer)
            if answer == 500:
                kind = "500 after acceptance" if i == len(posts) - 1 else "500 before acceptance"
            answers[kind] += 1
    if not faulted:
        assert set(snapshot["post_counts"].values()) == {1}
        assert answers == {"201": len(db_orders)}
    return dict(answers)
