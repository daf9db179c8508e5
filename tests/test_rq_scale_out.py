"""Scale-out on a real distributed engine: RQ on Redis through django-tasks-rq, as
docs/background.rst wires it (``rqworker --job-class django_tasks_rq.Job --worker-class
rq.worker.SimpleWorker``). Two worker processes each run a ``flush_queue_task`` with
``CONCURRENCY`` 4 over the same 200 messages on PostgreSQL, against one sandbox gateway
answering in 20 ms: every order is POSTed exactly once (the sandbox counts POSTs per
order id) and each worker logs in once.

Skipped, with the reason, without PostgreSQL (the SQLite pass), without a Redis on
127.0.0.1:6379 (``SMSREST_TEST_REDIS_HOST`` / ``_PORT``), or without django-tasks-rq.
"""

from __future__ import annotations

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


def _redis_problem() -> str | None:
    try:
        import django_tasks_rq  # noqa: F401
        import redis
    except ImportError:
        return "django-tasks-rq is not installed (pip install 'django-smsrest[rq]')"
    host = os.environ.get("SMSREST_TEST_REDIS_HOST", "127.0.0.1")
    port = int(os.environ.get("SMSREST_TEST_REDIS_PORT", "6379"))
    try:
        redis.Redis(host=host, port=port, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis is not reachable at {host}:{port} ({type(exc).__name__}: {exc})"
    return None


pytestmark = [
    pytest.mark.skipif(
        not using_postgres(),
        reason="needs PostgreSQL: run with SMSREST_TEST_DB=postgres (scripts/run_tests.py does)",
    ),
    pytest.mark.postgres,
]


def _env(db: str, smsrest: dict[str, object], queue: str) -> dict[str, str]:
    env = reliability_env(db, smsrest)
    env["DJANGO_SETTINGS_MODULE"] = "tests.rq_worker_settings"
    env["SMSREST_RQ_TEST_QUEUE"] = queue
    return env


def _start_workers(env: dict[str, str], queue: str, log_dir: Path) -> list[subprocess.Popen[str]]:
    procs = []
    for k in range(WORKERS):
        with open(log_dir / f"rqworker-{k}.log", "w") as log:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "django",
                        "rqworker",
                        "--job-class",
                        "django_tasks_rq.Job",
                        "--worker-class",
                        "rq.worker.SimpleWorker",
                        queue,
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
    return procs


def _logs(log_dir: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(log_dir.glob("rqworker-*.log")))


@pytest.fixture
def rq_queue() -> Iterator[str]:
    problem = _redis_problem()
    if problem:
        pytest.skip(problem)
    queue = f"smsrest-test-{uuid.uuid4().hex[:8]}"
    yield queue
    import redis

    client = redis.Redis(
        host=os.environ.get("SMSREST_TEST_REDIS_HOST", "127.0.0.1"),
        port=int(os.environ.get("SMSREST_TEST_REDIS_PORT", "6379")),
    )
    for key in client.scan_iter(f"rq:*{queue}*"):
        client.delete(key)


def test_two_rq_workers_flush_200_messages_exactly_once(rq_queue: str, tmp_path: Path) -> None:
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
        env = _env(db, smsrest, rq_queue)
        procs = _start_workers(env, rq_queue, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while _logs(tmp_path).count("Listening on") < WORKERS:
                assert time.monotonic() < deadline, _logs(tmp_path)
                assert all(p.poll() is None for p in procs), _logs(tmp_path)
                time.sleep(0.1)
            # One flush per worker: both are idle and listening, so each takes one.
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

    print(f"\nRQ: {MESSAGES} messages, {WORKERS} workers x CONCURRENCY {CONCURRENCY}, "
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
    assert "Traceback" not in _logs(tmp_path), _logs(tmp_path)
