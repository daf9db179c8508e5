"""A clean stop of an RQ worker running ``flush_queue_task``: SIGTERM to ``rqworker
--worker-class django_smsrest.contrib.rq.SimpleWorker`` (or ``.Worker``, which forks a
work horse per job) while the flush sends to a slow gateway.

RQ's own warm shutdown waits for the whole job, i.e. the whole due queue (about 15 s
here; on main the test fails on the time). With the app's worker classes the flush claims
nothing more, lands and records the POSTs in flight, gives back what it had claimed, the
job returns and RQ exits, within one request timeout. Same database and Redis set-up as
``test_rq_scale_out.py`` (a queue of the run's own, on any database kind: a temporary
SQLite file is shared by the processes too).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_smsrest.testing import start_sandbox_process
from tests.loop_process import query, statuses, wait_for
from tests.reliability import REPO, own_database, run_checked, seed, using_postgres
from tests.test_rq_scale_out import _env, _redis_problem

pytestmark = [pytest.mark.slow]

MESSAGES = 60
SMSREST = {
    "TIMEOUT": [1.0, 3.0],
    "CONCURRENCY": 4,
    "LEASE_SECONDS": 60,
    "STATUS_POLL_BASE_SECONDS": 3600,
}


@pytest.fixture
def rq_queue() -> Iterator[str]:
    problem = _redis_problem()
    if problem:
        pytest.skip(problem)
    queue = f"smsrest-worker-{uuid.uuid4().hex[:8]}"
    yield queue
    import redis

    client = redis.Redis()
    for key in client.scan_iter(f"rq:*{queue}*"):
        client.delete(key)


@pytest.mark.parametrize("worker_class", ["SimpleWorker", "Worker"])
def test_sigterm_to_an_rq_worker_stops_the_flush_cleanly(
    rq_queue: str, tmp_path: Path, worker_class: str
) -> None:
    kind = "postgres" if using_postgres() else "sqlite"
    with own_database(kind) as db, start_sandbox_process(seed=9) as sandbox:
        seed(db, MESSAGES, {"MAX_RECIPIENTS_PER_ORDER": 1000})
        sandbox.configure(latency=(1000, 1000))
        env = _env(db, {**sandbox.smsrest_settings(), **SMSREST}, rq_queue)
        log_path = tmp_path / "rqworker.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "django",
                    "rqworker",
                    "--job-class",
                    "django_tasks_rq.Job",
                    "--worker-class",
                    f"django_smsrest.contrib.rq.{worker_class}",
                    rq_queue,
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        try:
            wait_for(lambda: "Listening on" in log_path.read_text(), 60, "the worker to listen")
            run_checked(["-m", "tests.reliability_worker", "enqueue-flush", "1"], env)
            wait_for(
                lambda: statuses(db).get("sent", 0) >= 2 and statuses(db).get("sending", 0) >= 1,
                60,
                "the flush to be in the middle of sending",
            )
            proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            proc.wait(30)
            took = time.monotonic() - signalled
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        logs = log_path.read_text()
        assert proc.returncode == 0, logs
        assert took <= sum(SMSREST["TIMEOUT"]) + 1.5, (took, logs)
        left = statuses(db)
        assert set(left) <= {"sent", "queued"}, left
        assert left.get("queued", 0) > 0, left
        assert query(
            db,
            "SELECT DISTINCT attempts FROM django_smsrest_smsmessage WHERE status = %s",
            ("queued",),
        ) == [(0,)]
        gateway = {order["order_id"] for order in sandbox.snapshot()["orders"]}
        accepted = query(
            db, "SELECT order_id FROM django_smsrest_smsorder WHERE status = %s", ("accepted",)
        )
        assert gateway == {str(order_id) for (order_id,) in accepted}
    print(
        f"\n[worker] rqworker {worker_class}, SIGTERM mid-flush: exited in {took:.2f} s, "
        f"{left['sent']} sent, {left['queued']} still queued (none claimed)"
    )
