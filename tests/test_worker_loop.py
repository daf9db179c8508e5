"""``send_sms --loop`` as a worker left running for weeks: it survives database errors
(unit level; the PostgreSQL subprocess test is in ``test_worker_loop_postgres.py``)."""

from __future__ import annotations

import logging
import os
import signal

import pytest
from django.db import InterfaceError, OperationalError
from django.db.models import Count

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.management import loop
from django_smsrest.management.commands.send_sms import Command
from django_smsrest.models import Status
from django_smsrest.testing.tasks import no_task_worker as no_worker

NUMBER = "+393471234567"


@pytest.fixture(autouse=True)
def _clean_gateway():
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture
def run_loop_command(capsys, monkeypatch):
    """``manage.py send_sms --loop ARGS``: (exit code or the exception, stdout, stderr)."""
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)

    def run(*argv: str) -> tuple[object, str, str]:
        result: object = 0
        try:
            Command().run_from_argv(["manage.py", "send_sms", "--loop", *argv])
        except SystemExit as exc:
            result = int(exc.code or 0)
        except Exception as exc:  # what main does: the worker died
            result = exc
        captured = capsys.readouterr()
        return result, captured.out, captured.err

    return run


def _sigterm_soon() -> None:
    """SIGTERM to this process, now: the sweeps run in the main thread, so the loop's
    handler runs before the sweep returns and the loop stops after it. (A timer thread
    raced the loop on a loaded machine: a second signal after the loop had put the
    default handler back ended the test run.)"""
    os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.django_db
def test_loop_survives_database_is_locked_and_sends_afterwards(
    run_loop_command, monkeypatch, caplog
) -> None:
    """SQLite's "database is locked" (any OperationalError, InterfaceError) escaping a
    sweep: logged without a traceback, a growing backoff, then the next sweep sends."""
    monkeypatch.setattr(loop, "BACKOFF_BASE", 0.01)
    message = services.queue_sms("Hello", [NUMBER])
    real_sweep = services.sweep
    errors = [OperationalError("database is locked"), InterfaceError("connection already closed")]
    calls: list[int] = []

    def sweep(**kwargs):
        calls.append(1)
        if errors:
            raise errors.pop(0)
        report = real_sweep(**kwargs)
        _sigterm_soon()
        return report

    delays: list[float] = []
    real_next = loop.Backoff.next_delay

    def next_delay(self):
        delays.append(real_next(self))
        return delays[-1]

    monkeypatch.setattr(services, "sweep", sweep)
    monkeypatch.setattr(loop.Backoff, "next_delay", next_delay)
    with caplog.at_level(logging.WARNING, logger="django_smsrest.worker"):
        result, out, _err = run_loop_command("--interval", "0.01")
    assert result == 0
    assert out.splitlines()[-1] == "Stopped."
    assert len(calls) == 3
    message.refresh_from_db()
    assert message.status == Status.SENT
    lines = [r.getMessage() for r in caplog.records if r.name == "django_smsrest.worker"]
    assert "OperationalError: database is locked" in lines[0]
    assert "InterfaceError: connection already closed" in lines[1]
    assert all(r.exc_info is None for r in caplog.records if r.name == "django_smsrest.worker")
    # The second failure in a row waits longer than the first could.
    assert 0.005 <= delays[0] <= 0.01 < delays[1] <= 0.02


@pytest.mark.django_db
def test_loop_survives_an_unexpected_exception(run_loop_command, monkeypatch, caplog) -> None:
    monkeypatch.setattr(loop, "BACKOFF_BASE", 0.01)
    calls: list[int] = []

    def sweep(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a bug")
        _sigterm_soon()
        return services.SweepReport()

    monkeypatch.setattr(services, "sweep", sweep)
    with caplog.at_level(logging.ERROR, logger="django_smsrest.worker"):
        result, _out, _err = run_loop_command("--interval", "0.01")
    assert result == 0
    assert len(calls) == 2
    (record,) = [r for r in caplog.records if r.name == "django_smsrest.worker"]
    assert record.exc_info is not None  # a bug keeps its traceback


def test_database_error_log_line_masks_secrets() -> None:
    exc = OperationalError(
        "connection to server failed: password=hunter2 FATAL: too many clients\nDETAIL: x"
    )
    text = loop.describe_error(exc)
    assert text.startswith("OperationalError: connection to server failed")
    assert "hunter2" not in text
    assert "DETAIL" not in text


def test_backoff_is_capped_jittered_and_resets() -> None:
    backoff = loop.Backoff(base=1.0, maximum=8.0)
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 1.0


# --- what the loop hands a lost connection to -------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_flush_stops_at_a_lost_connection(monkeypatch, settings, concurrency) -> None:
    """Django never reconnects a cut connection: every next claim would fail the same
    way. The flush hands the error up at once (the worker reconnects and backs off)
    instead of logging one failure per message of the queue."""
    from django_smsrest.outbox import batch

    settings.SMSREST = {**settings.SMSREST, "CONCURRENCY": concurrency}
    with no_worker:
        for text in ("a", "b", "c"):
            services.queue_sms(text, [NUMBER])
    tried: list[str] = []

    def lost(token: str, *args, **kwargs) -> int:
        tried.append(token)
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(batch, "claim_batch", lost)
    with pytest.raises(OperationalError):
        services.flush_queue()
    assert len(tried) == 1
    assert not locmem.outbox


@pytest.mark.django_db(transaction=True)
def test_a_sweep_cut_by_a_lost_connection_still_frees_its_lock(monkeypatch) -> None:
    """The sweep's lock is released on a new connection when the old one was lost, so the
    next sweep (a second later, in the loop) is not locked out for a whole lease."""
    from django_smsrest.models import OutboxLock
    from django_smsrest.services import queue

    real_release = queue.release_lock
    failures = [InterfaceError("connection already closed")]

    def release(name: str, token: str) -> None:
        if failures:
            raise failures.pop()
        real_release(name, token)

    def refresh(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(queue, "release_lock", release)
    monkeypatch.setattr(queue, "refresh_due_statuses", refresh)
    with pytest.raises(OperationalError):
        services.sweep()
    assert not failures
    assert OutboxLock.objects.get(name="sweep").token == ""


# --- a stop request (what SIGTERM / SIGINT do in the loop) -------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_stop_request_mid_flush_gives_back_what_was_not_posted(settings, concurrency) -> None:
    """The flush claims nothing more once a stop is requested; what it claimed and did not
    POST is QUEUED again at once (no attempt counted, no lease to wait for), and the report
    does not blame the gateway ("stopped early")."""
    from django_smsrest import signals
    from django_smsrest.models import SmsMessage
    from django_smsrest.outbox import stopping

    settings.SMSREST = {**settings.SMSREST, "CONCURRENCY": concurrency}
    with no_worker:
        for i in range(12):
            services.queue_sms(f"m{i}", [NUMBER])
    seen: list[int] = []

    def stop_at_the_third(sender, message, **kwargs):
        seen.append(message.pk)
        if len(seen) == 3:
            stopping.request_stop()

    signals.pre_send.connect(stop_at_the_third)
    try:
        report = services.flush_queue()
    finally:
        signals.pre_send.disconnect(stop_at_the_third)
        stopping.clear()
    statuses = dict(SmsMessage.objects.values_list("status").annotate(n=Count("id")).order_by())
    assert statuses == {Status.SENT: 3, Status.QUEUED: 9}
    assert set(
        SmsMessage.objects.filter(status=Status.QUEUED).values_list("attempts", flat=True)
    ) == {0}
    assert len(locmem.outbox) == 3
    assert not report.stopped_early
