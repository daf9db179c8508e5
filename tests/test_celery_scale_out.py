"""Scale-out on Celery: django.tasks through django-tasks-celery, RabbitMQ as the broker,
as docs/monitoring.rst "Scale out" wires it (``celery -A proj worker --pool solo``). Two
worker processes each run a ``flush_queue_task`` with ``CONCURRENCY`` 4 over the same 200
messages on PostgreSQL, against one sandbox gateway answering in 20 ms: every order is
POSTed exactly once (the sandbox counts POSTs per order id) and each worker logs in once.
The mirror of tests/test_rq_scale_out.py.

django-tasks-celery exists for Python >= 3.12 with Django 6 only: nox's ``celery`` session
(Python 3.12, Django 6.0, PostgreSQL; run by .ci/run) runs this test. Elsewhere it is
skipped with the reason: without django-tasks-celery, without PostgreSQL (the SQLite
passes), or without a RabbitMQ on 127.0.0.1:5672 (``SMSREST_TEST_AMQP_URL``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_smsrest.testing import start_sandbox_process
from tests.reliability import REPO, db_report, own_database, run_checked, seed, using_postgres
from tests.reliability import worker_env as reliability_env

MESSAGES = 200
WORKERS = 2
CONCURRENCY = 4
AMQP_URL = os.environ.get("SMSREST_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _celery_problem() -> str | None:
    try:
        import django_tasks_celery  # noqa: F401
        import kombu
    except ImportError:
        return (
            "django-tasks-celery is not installed (it needs Python >= 3.12 and Django 6: "
            "pip install 'django-smsrest[celery]'; nox -s celery runs this test)"
        )
    try:
        with kombu.Connection(AMQP_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        return f"RabbitMQ is not reachable at {AMQP_URL} ({type(exc).__name__}: {exc})"
    return None


pytestmark = [
    pytest.mark.skipif(
        not using_postgres(),
        reason="needs PostgreSQL: run with SMSREST_TEST_DB=postgres (nox -s celery does)",
    ),
    pytest.mark.postgres,
]


def _env(db: str, smsrest: dict[str, object], queue: str) -> dict[str, str]:
    env = reliability_env(db, smsrest)
    env["DJANGO_SETTINGS_MODULE"] = "tests.celery_worker_settings"
    env["SMSREST_CELERY_TEST_QUEUE"] = queue
    return env


def _start_workers(env: dict[str, str], queue: str, log_dir: Path) -> list[subprocess.Popen[str]]:
    procs = []
    for k in range(WORKERS):
        command = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker",
                   "--pool", "solo", "-Q", queue, "-n", f"{queue}-{k}@%h", "-l", "INFO",
                   "--without-heartbeat", "--without-gossip", "--without-mingle"]  # fmt: skip
        with open(log_dir / f"celery-{k}.log", "w") as log:
            procs.append(
                subprocess.Popen(
                    command,
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
    return procs


def _logs(log_dir: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(log_dir.glob("celery-*.log")))


@pytest.fixture
def celery_queue() -> Iterator[str]:
    problem = _celery_problem()
    if problem:
        pytest.skip(problem)
    prefix = os.environ.get("SMSREST_TEST_QUEUE_PREFIX", "smsrest_test")
    queue = f"{prefix}_{uuid.uuid4().hex[:8]}"
    yield queue
    import kombu

    with (
        kombu.Connection(AMQP_URL, connect_timeout=3) as conn,
        contextlib.suppress(Exception),  # already gone
    ):
        conn.default_channel.queue_delete(queue)


def test_two_celery_workers_flush_200_messages_exactly_once(
    celery_queue: str, tmp_path: Path
) -> None:
    with own_database("postgres") as db, start_sandbox_process(seed=7, latency=20) as sandbox:
        smsrest = {
            **sandbox.smsrest_settings(),
            "CONCURRENCY": CONCURRENCY,
            "MAX_RECIPIENTS_PER_ORDER": 1,
            "STATUS_POLL_BASE_SECONDS": 3600,
        }
        # Seeded with the dummy task backend (tests.worker_settings): rows only, no task.
        seeded = seed(db, MESSAGES, {**smsrest, "MAX_RECIPIENTS_PER_ORDER": 1000})
        assert seeded["statuses"] == {"queued": MESSAGES}
        env = _env(db, smsrest, celery_queue)
        procs = _start_workers(env, celery_queue, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while _logs(tmp_path).count(" ready.") < WORKERS:
                assert time.monotonic() < deadline, _logs(tmp_path)
                assert all(p.poll() is None for p in procs), _logs(tmp_path)
                time.sleep(0.1)
            # One flush per worker: both are idle, consuming one message at a time.
            started = time.monotonic()
            run_checked(["-m", "tests.reliability_worker", "enqueue-flush", str(WORKERS)], env)
            deadline = time.monotonic() + 90
            while True:
                report = db_report(db)
                if report["statuses"] == {"sent": MESSAGES}:
                    break
                assert time.monotonic() < deadline, (report["statuses"], _logs(tmp_path))
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            # Each worker recorded its heartbeat when it ran its flush: sms_health sees both.
            health = run_checked(["-m", "django", "sms_health"], env)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)  # warm shutdown
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        snapshot = sandbox.snapshot()

    print(f"\nCelery: {MESSAGES} messages, {WORKERS} workers x CONCURRENCY {CONCURRENCY}, "
          f"20 ms gateway: sent in {elapsed:.1f} s (polled every 0.5 s)")  # fmt: skip
    orders = {order_id for order_id, _status in report["orders"]}
    assert len(orders) == MESSAGES
    assert {status for _id, status in report["orders"]} == {"accepted"}
    # Every order POSTed exactly once, and nothing else POSTed.
    assert snapshot["post_counts"] == {order_id: 1 for order_id in orders}
    assert snapshot["posts_total"] == MESSAGES
    # One login per worker: K threads in a process share its session key; and both
    # workers did take part (a worker logs in on its first POST).
    assert snapshot["logins"] + snapshot.get("tokens", 0) == WORKERS, json.dumps(
        snapshot["requests"]
    )
    logs = _logs(tmp_path)
    assert "Traceback" not in logs, logs
    assert "Workers (2):" in health, health
    assert health.count("(task worker)") == WORKERS, health
    assert health.rstrip().endswith("Healthy."), health
