"""A clean stop of ``send_sms --loop``: SIGTERM (a deploy, a container stop) or SIGINT
(Ctrl-C) while messages are being sent to a slow gateway.

A real worker process (:mod:`tests.loop_process`), a sandbox process answering each POST
after one second, a queue that takes many seconds to send. After the signal the worker
must claim nothing more, let the POSTs in flight land and record them, give back at once
the messages it had claimed but not POSTed (QUEUED, no attempt counted: not SENDING until
their lease expires), and exit 0 within one request timeout. A second worker then sends
the rest: every order POSTed exactly once.
"""

from __future__ import annotations

import signal
import time

import pytest

from django_smsrest.testing import start_sandbox_process
from tests.loop_process import LoopWorker, query, statuses, wait_for
from tests.reliability import (
    RunResult,
    assert_exactly_once,
    db_report,
    own_database,
    seed,
    using_postgres,
)

pytestmark = [pytest.mark.slow]

MESSAGES = 60
LATENCY_MS = 1000
SMSREST = {
    "TIMEOUT": [1.0, 3.0],  # connect, read: the stop must take at most about this long
    "RETRY_BASE_SECONDS": 0.05,
    "RETRY_MAX_SECONDS": 0.5,
    "LEASE_SECONDS": 60,  # long: a message left SENDING would still be SENDING at the end
    "STATUS_POLL_BASE_SECONDS": 3600,
}


def _accepted_orders(db: str) -> set[str]:
    rows = query(
        db, "SELECT order_id FROM django_smsrest_smsorder WHERE status = %s", ("accepted",)
    )
    return {str(order_id) for (order_id,) in rows}


@pytest.mark.parametrize(
    "signum, concurrency",
    [(signal.SIGTERM, 4), (signal.SIGINT, 4), (signal.SIGTERM, 1)],
    ids=["SIGTERM-batch", "SIGINT-batch", "SIGTERM-sequential"],
)
def test_a_signal_stops_the_loop_cleanly(signum: int, concurrency: int) -> None:
    smsrest = {**SMSREST, "CONCURRENCY": concurrency}
    kind = "postgres" if using_postgres() else "sqlite"
    with own_database(kind) as db, start_sandbox_process(seed=5) as sandbox:
        seed(db, MESSAGES, smsrest)
        sandbox.configure(latency=(LATENCY_MS, LATENCY_MS))
        worker = LoopWorker(db, {**sandbox.smsrest_settings(), **smsrest})
        # Some sent, POSTs in flight (claimed rows): the middle of a flush.
        wait_for(
            lambda: statuses(db).get("sent", 0) >= 2 and statuses(db).get("sending", 0) >= 1,
            60,
            "the worker to be in the middle of sending",
        )
        worker.signal(signum)
        signalled = time.monotonic()
        code, out, err = worker.stop(timeout=30)
        took = time.monotonic() - signalled

        assert code == 0, err
        assert out.splitlines()[-1] == "Stopped.", out
        assert "Traceback" not in err, err
        # Within one request timeout (connect + read), plus a second to write and exit.
        assert took <= sum(SMSREST["TIMEOUT"]) + 1.0, (took, err)
        # Nothing left claimed: what was not POSTed is back in the queue at once, without
        # an attempt counted; nothing is waiting for a reconciliation.
        left = statuses(db)
        assert set(left) <= {"sent", "queued"}, left
        assert 0 < left.get("queued", 0) < MESSAGES - 2, left
        attempts = query(
            db,
            "SELECT DISTINCT attempts FROM django_smsrest_smsmessage WHERE status = %s",
            ("queued",),
        )
        assert attempts == [(0,)]
        # Every POST the gateway accepted was recorded before the exit.
        gateway = {order["order_id"] for order in sandbox.snapshot()["orders"]}
        assert gateway == _accepted_orders(db)
        assert len(gateway) == left["sent"]

        # The next worker sends the rest; nothing was lost or POSTed twice.
        sandbox.configure(latency=(0, 0))
        started = time.monotonic()
        second = LoopWorker(db, {**sandbox.smsrest_settings(), **smsrest})
        wait_for(lambda: statuses(db) == {"sent": MESSAGES}, 60, "the rest to be sent")
        second.signal(signal.SIGTERM)
        code, _out, err = second.stop(timeout=30)
        assert code == 0, err
        result = RunResult(time.monotonic() - started, [], db_report(db), sandbox.snapshot())
    assert_exactly_once(result, messages=MESSAGES, faulted=False)
    print(
        f"\n[worker] {signal.Signals(signum).name}, CONCURRENCY {concurrency}: stopped in "
        f"{took:.2f} s (request timeout {sum(SMSREST['TIMEOUT'])} s), {left['sent']} sent "
        f"before the stop, {left['queued']} still queued (none claimed)"
    )
