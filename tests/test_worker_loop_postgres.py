"""``send_sms --loop`` survives its database connections being killed while it sends.

A real worker process (:mod:`tests.loop_process`) sends a queue of messages through a
sandbox process, on a PostgreSQL database of its own; the test kills every connection of
that database with ``pg_terminate_backend`` several times while messages are still being
sent. The worker must log, reconnect and go on: in the end every message is SENT, every
order was POSTed exactly once (the sandbox counts POSTs per order id), and the worker
still exits 0 on SIGTERM.
"""

from __future__ import annotations

import signal
import time

import pytest

from django_smsrest.testing import start_sandbox_process
from tests.loop_process import LoopWorker, kill_connections, statuses, wait_for
from tests.reliability import (
    RunResult,
    assert_exactly_once,
    db_report,
    own_database,
    seed,
    using_postgres,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not using_postgres(), reason="needs PostgreSQL: run with SMSREST_TEST_DB=postgres"
    ),
]

MESSAGES = 200
KILLS = 5
SMSREST = {
    "TIMEOUT": [1.0, 0.5],
    "RETRY_BASE_SECONDS": 0.05,
    "RETRY_MAX_SECONDS": 0.5,
    # A killed connection can leave claimed rows SENDING: the sweep reconciles them once
    # their lease expires, so keep it short (still longer than one exchange, 2.5 s).
    "LEASE_SECONDS": 4,
    "MAX_RECIPIENTS_PER_ORDER": 2,
    "STATUS_POLL_BASE_SECONDS": 3600,
}


@pytest.mark.parametrize("concurrency", [1, 4])
def test_loop_worker_survives_killed_connections(concurrency: int) -> None:
    smsrest = {**SMSREST, "CONCURRENCY": concurrency}
    with own_database("postgres") as db, start_sandbox_process(seed=3) as sandbox:
        seed(db, MESSAGES, smsrest)
        # Slow enough that the queue takes seconds to send: the kills land mid-send.
        sandbox.configure(latency=(15, 25))
        started = time.monotonic()
        worker = LoopWorker(db, {**sandbox.smsrest_settings(), **smsrest})
        try:
            kills = 0
            last_sent = 0
            while kills < KILLS:
                # Each kill after some progress, while messages are still waiting.
                floor = last_sent + 10
                sent = wait_for(
                    lambda floor=floor: (n := statuses(db).get("sent", 0)) > floor and n,
                    60,
                    "progress between two kills",
                )
                assert worker.running(), worker.stderr_so_far()
                assert sent < MESSAGES, "the queue was sent before all the kills"
                if kill_connections(db):
                    kills += 1
                last_sent = sent
            wait_for(
                lambda: statuses(db) == {"sent": MESSAGES}, 90, "every message SENT", poll=0.2
            )
            assert worker.running()
        except AssertionError as exc:
            if worker.running():
                worker.signal(signal.SIGTERM)
            code, out, err = worker.stop()
            raise AssertionError(f"{exc}\nkills: {kills}, {statuses(db)}\n{out}\n{err}") from None
        worker.signal(signal.SIGTERM)
        code, out, err = worker.stop()
        seconds = time.monotonic() - started
        assert code == 0, err
        assert out.splitlines()[-1] == "Stopped."
        result = RunResult(seconds, [], db_report(db), sandbox.snapshot())
    # Nothing lost, nothing POSTed twice: one POST per order, each answered 201.
    assert_exactly_once(result, messages=MESSAGES, faulted=False)
    # The kills hit the worker while it worked: it saw database errors and went on.
    assert err.count("Worker: database error") >= 1, err[-3000:]
    print(
        f"\n[worker] CONCURRENCY {concurrency}: {MESSAGES} messages, {KILLS} connection "
        f"kills, {err.count('Worker: database error')} database errors seen by the loop, "
        f"{result.requests['GET sms/{order_id}']} reconciling GETs, {seconds:.1f} s"
    )
