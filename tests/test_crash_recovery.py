"""kill -9 a worker between its POST and the recording of the answer; the sweeper recovers.

The gateway is one sandbox process; the workers are real processes
(:mod:`tests.reliability_worker`) on a database of their own (a temporary SQLite file on the
SQLite pass, a throw-away PostgreSQL database on the PostgreSQL pass). A worker is killed
with SIGKILL: no ``finally``, no signal handler, nothing recorded. Recovery is only what a
deployment has: the next ``send_sms --sweep`` once the lease has expired moves the row to
UNKNOWN and asks ``GET sms/{order_id}`` before anything is sent again.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from typing import Any

import pytest

from django_smsrest.testing import start_sandbox_process
from tests.reliability import (
    Chaos,
    assert_exactly_once,
    db_report,
    own_database,
    run_checked,
    run_workers,
    seed,
    start_worker,
    using_postgres,
    worker_env,
)

pytestmark = [pytest.mark.slow]

LEASE = 2.0
# The read timeout is long on purpose: the worker must still be waiting for the answer
# when it is killed (the lease is shorter: the worker is dead, nobody renews anything).
HANGING = {
    "TIMEOUT": [1.0, 30.0],
    "LEASE_SECONDS": LEASE,
    "RETRY_BASE_SECONDS": 0.05,
    "RETRY_MAX_SECONDS": 0.5,
    "STATUS_POLL_BASE_SECONDS": 3600,
}


def _kind() -> str:
    return "postgres" if using_postgres() else "sqlite"


def _wait_for(predicate: Any, timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def _sweep(db: str, smsrest: dict[str, Any]) -> str:
    return run_checked(
        ["-m", "django", "send_sms", "--sweep"], worker_env(db, smsrest), timeout=60
    )


@pytest.mark.parametrize("concurrency", [1, 4])
def test_worker_killed_after_its_post_was_accepted_is_reconciled_not_resent(
    concurrency: int,
) -> None:
    """One engine: a claim takes CLAIM_PER_REQUEST x CONCURRENCY messages (4 with
    CONCURRENCY 1, all five with 4) and the first is POSTed alone (the flush's slow
    start), so the dead worker leaves that many SENDING rows of which one was POSTed:
    each costs one reconciling GET, never a second POST."""
    from django_smsrest.outbox.batch import CLAIM_PER_REQUEST

    claimed = min(5, CLAIM_PER_REQUEST * concurrency)
    with own_database(_kind()) as db, start_sandbox_process(seed=3) as sandbox:
        seed(db, 5, HANGING)
        # The first POST is accepted and stored, then the answer never comes.
        sandbox.configure(timeout_after_next=1, timeout_seconds=60)
        smsrest = {**sandbox.smsrest_settings(), **HANGING, "CONCURRENCY": concurrency}
        worker = start_worker(db, smsrest, deadline=60)
        hung = _wait_for(
            lambda: [o for o in sandbox.orders() if o["fault"] == "timeout_after"],
            30,
            "the sandbox to accept the first order",
        )[0]
        _kill(worker)  # the POST went out and was accepted; the answer was never recorded
        assert sandbox.post_count(hung["order_id"]) == 1

        state = db_report(db)
        assert state["statuses"].get("sending") == claimed, state  # the dead worker's claim

        # A sweep while the lease still runs leaves the row alone (the worker might be
        # alive and about to record the answer) and asks the gateway nothing.
        gets_before = sandbox.snapshot()["requests"].get("GET sms/{order_id}", 0)
        out = _sweep(db, smsrest)
        assert "stalled send" not in out, out
        assert db_report(db)["statuses"].get("sending") == claimed
        assert sandbox.snapshot()["requests"].get("GET sms/{order_id}", 0) == gets_before
        assert sandbox.snapshot()["posts_total"] == 1  # the rest of a batch waits its turn

        # The lease runs out. It covers the worst case of a send (a long read timeout:
        # minutes), so the test moves it instead of waiting.
        run_checked(["-m", "tests.reliability_worker", "expire"], worker_env(db))
        restarted = start_worker(db, smsrest, deadline=60)
        out, err = restarted.communicate(timeout=90)
        assert restarted.returncode == 0, (out, err)

        final = db_report(db)
        assert final["statuses"] == {"sent": 5}, final["problems"]
        snapshot = sandbox.snapshot()
        assert snapshot["post_counts"][hung["order_id"]] == 1  # never POSTed again
        assert set(snapshot["post_counts"].values()) == {1}
        assert {o for o, _s in final["orders"]} == set(snapshot["post_counts"])
        # One reconciling GET per row the dead worker held: its POSTed order, found at the
        # gateway; (with a batch) the others, not found, then POSTed once.
        assert snapshot["requests"].get("GET sms/{order_id}", 0) == claimed


def test_workers_killed_at_random_moments_lose_nothing_and_send_nothing_twice() -> None:
    """300 messages, 4 workers, a SIGKILL to a random worker every 0.3 s (replaced at
    once), 8 times: kills land between claim and POST, during the POST, between the POST
    and the write, during the write. Then the survivors and the sweeper finish the job."""
    rng = random.Random(11)
    messages = 300
    # A short read timeout: a killed worker's lease covers the worst case of its send
    # (3 tries x 3 exchanges x (connect + read) + 1 s = 14.5 s), and the survivors wait it.
    smsrest = {**HANGING, "TIMEOUT": [0.5, 1.0], "MAX_RECIPIENTS_PER_ORDER": 2}
    with own_database(_kind()) as db, start_sandbox_process(seed=5, latency="10-40") as sandbox:
        seed(db, messages, smsrest)
        conf = {**sandbox.smsrest_settings(), **smsrest}
        workers = [start_worker(db, conf, deadline=90) for _ in range(4)]
        kills = 0
        try:
            # Wait until sending has started, then shoot.
            _wait_for(lambda: sandbox.snapshot()["posts_total"] > 0, 30, "the first POST")
            while kills < 8:
                time.sleep(0.3)
                alive = [w for w in workers if w.poll() is None]
                if not alive:
                    break
                victim = rng.choice(alive)
                _kill(victim)
                kills += 1
                workers.remove(victim)
                workers.append(start_worker(db, conf, deadline=90))
            for proc in workers:
                out, err = proc.communicate(timeout=120)
                assert proc.returncode == 0, (out, err)
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        assert kills >= 3, kills
        # A last worker run: a no-op if the survivors finished everything.
        result = run_workers(db, sandbox, workers=1, smsrest=smsrest, chaos=Chaos())
        answers = assert_exactly_once(result, messages=messages, faulted=True)
        print(
            f"\n[crash] {_kind()}: {kills} workers killed, {messages} messages, "
            f"{len(result.report['orders'])} orders, POST answers {answers}, "
            f"requests {result.snapshot['requests']}, attempts {result.report['attempts']}"
        )
        # Every order POSTed once: a kill never caused a second POST.
        assert set(result.snapshot["post_counts"].values()) == {1}


# --- the same crash windows, in one process and deterministic ----------------------------
# A "kill" here is a BaseException raised from inside the send job at the exact point: it
# unwinds past every ``except Exception`` like a dying process leaves no write behind.


class Killed(BaseException):
    """Stands for SIGKILL at a chosen line."""


@pytest.fixture
def locmem_outbox(settings: Any) -> Any:
    from django_smsrest.backends import locmem

    settings.SMSREST = {
        **settings.SMSREST,
        "BACKEND": "django_smsrest.backends.locmem.LocmemBackend",
        "MAX_RECIPIENTS_PER_ORDER": 1,
        "LEASE_SECONDS": 30,
    }
    locmem.reset()
    yield locmem.outbox
    locmem.reset()


def _after_lease() -> Any:
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(seconds=31)


@pytest.mark.django_db
def test_killed_between_recording_the_order_and_the_message_totals_are_rebuilt(
    locmem_outbox: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after ``SmsOrder`` was marked ACCEPTED and before the message row was
    written: the reconciled message must still report what was sent (it reported
    ``total_sent=None`` before the fix in ``ClaimedMessage.pending_orders``)."""
    from django_smsrest import outbox, services
    from django_smsrest.models import OrderStatus, SmsMessage, Status

    msg = services.queue_sms("Hello", ["+393471234567"])
    msg.refresh_from_db()  # the ImmediateBackend sends at commit: put it back in the queue
    SmsMessage.objects.filter(pk=msg.pk).update(status=Status.QUEUED)
    locmem_outbox.clear()
    msg.orders.update(status=OrderStatus.PENDING)

    def die(self: Any) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(outbox.Outcomes, "succeed", die)
        with pytest.raises(Killed):
            services.send_message(msg.pk)
    msg.refresh_from_db()
    assert msg.status == Status.SENDING and msg.total_sent is None
    assert msg.orders.get().status == OrderStatus.ACCEPTED

    report = services.sweep(now=_after_lease())
    assert report.expired_leases == 1 and report.reconciled == {Status.SENT: 1}
    msg.refresh_from_db()
    assert msg.status == Status.SENT
    assert msg.total_sent == 1
    assert msg.sent_at is not None and msg.internal_order_id
    assert len(locmem_outbox) == 1  # one POST, never a second


@pytest.mark.django_db
def test_killed_after_the_first_of_two_orders_then_the_second_is_refused_is_partly_sent(
    locmem_outbox: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Order 1 accepted, the worker dies before writing the message; after recovery the
    gateway refuses order 2 for good. Recipients of order 1 did get the SMS, so the message
    must not end FAILED ("nothing was sent"): it stays SENT with the reason."""
    from django_smsrest import dispatch, outbox, services
    from django_smsrest.backends import locmem
    from django_smsrest.exceptions import GatewayRejected
    from django_smsrest.models import OrderStatus, SmsMessage, Status

    with monkeypatch.context() as patch:
        # Queue without sending (no task run at commit).
        patch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)
        msg = services.queue_sms("Hello", ["+393471234567", "+393471234568"])
    assert msg.orders.count() == 2

    real_write = outbox.ClaimedMessage.write

    def write(self: Any, **fields: Any) -> None:
        if fields.get("status") == Status.SENDING and "total_sent" in fields:
            raise Killed  # the progress write after order 1
        real_write(self, **fields)

    with monkeypatch.context() as patch:
        patch.setattr(outbox.ClaimedMessage, "write", write)
        with pytest.raises(Killed):
            services.send_message(msg.pk)
    assert len(locmem_outbox) == 1
    assert msg.orders.get(index=0).status == OrderStatus.ACCEPTED

    with monkeypatch.context() as patch:
        patch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)
        report = services.sweep(now=_after_lease())  # order 1 found, order 2 -> 404
        assert report.reconciled == {Status.QUEUED: 1}
        SmsMessage.objects.filter(pk=msg.pk).update(next_attempt_at=None)
        locmem.fail_next("send", GatewayRejected("recipient refused", status_code=400))
        final = services.send_message(msg.pk)
    assert final is not None
    assert final.status == Status.SENT, final.last_error
    assert final.total_sent == 1
    assert "recipient refused" in final.last_error
    assert len(locmem_outbox) == 1
