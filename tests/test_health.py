"""Heartbeat and health (issue 21, item 4): the workers' heartbeat rows, ``queue_health``
(two queries whatever the size), ``manage.py sms_health`` and its exit status, and the
dashboard's workers panel."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.management.commands.send_sms import Command as SendSmsCommand
from django_smsrest.models import SmsMessage, SmsWorker, Status, WorkerKind
from django_smsrest.services import health
from django_smsrest.testing.tasks import no_task_worker

pytestmark = pytest.mark.django_db

NUMBER = "+393471234567"


@pytest.fixture(autouse=True)
def _fresh_beats():
    # The process remembers its heartbeat row; each test's database starts empty.
    health.forget_beats()
    locmem.reset()
    yield
    health.forget_beats()
    locmem.reset()


def _queued(n: int = 1, *, age: timedelta = timedelta(0), **fields) -> list[SmsMessage]:
    with no_task_worker:
        msgs = [services.queue_sms("Hi", [NUMBER]) for _ in range(n)]
    SmsMessage.objects.filter(pk__in=[m.pk for m in msgs]).update(
        created_at=timezone.now() - age, **fields
    )
    return msgs


# --- the heartbeat ------------------------------------------------------------------------


def test_first_beat_registers_the_process_then_each_beat_is_one_update() -> None:
    services.beat(WorkerKind.LOOP)
    worker = SmsWorker.objects.get()
    assert worker.kind == "loop"
    assert worker.pid == os.getpid()
    assert worker.name.startswith("loop@") and worker.name.endswith(f":{os.getpid()}")
    first_seen = worker.last_seen

    later = first_seen + timedelta(seconds=5)
    with CaptureQueriesContext(connection) as queries:
        services.beat(WorkerKind.LOOP, now=later)
    assert len(queries) == 1
    assert queries[0]["sql"].upper().startswith("UPDATE")
    worker.refresh_from_db()
    assert worker.last_seen == later
    assert worker.started_at == first_seen
    assert SmsWorker.objects.count() == 1


def test_a_beat_within_every_seconds_costs_no_query() -> None:
    services.beat(WorkerKind.TASK, every=60)
    with CaptureQueriesContext(connection) as queries:
        services.beat(WorkerKind.TASK, every=60)
    assert len(queries) == 0


def test_a_deleted_row_is_written_again_and_long_gone_workers_are_forgotten() -> None:
    now = timezone.now()
    SmsWorker.objects.create(
        name="loop@gone:1",
        host="gone",
        pid=1,
        kind="loop",
        started_at=now - timedelta(days=30),
        last_seen=now - timedelta(days=8),
    )
    services.beat(WorkerKind.LOOP)
    assert not SmsWorker.objects.filter(name="loop@gone:1").exists()
    SmsWorker.objects.all().delete()
    services.beat(WorkerKind.LOOP)
    assert SmsWorker.objects.filter(kind="loop", pid=os.getpid()).count() == 1


def test_a_cron_run_reuses_one_row_per_host() -> None:
    assert health.worker_name("cron", "web1", 123) == health.worker_name("cron", "web1", 456)
    assert health.worker_name("loop", "web1", 123) != health.worker_name("loop", "web1", 456)


def test_a_database_error_in_the_heartbeat_is_logged_not_raised(monkeypatch, caplog) -> None:
    def broken(*args, **kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(health, "_register", broken)
    services.beat(WorkerKind.LOOP)  # does not raise
    assert "Could not record the heartbeat" in caplog.text


def test_the_loop_beats_every_iteration(monkeypatch, capsys) -> None:
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    sweeps: list[int] = []

    def fake_sweep():
        sweeps.append(1)
        assert SmsWorker.objects.filter(kind="loop").count() == 1  # beat before the sweep
        if len(sweeps) == 3:
            threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGTERM)).start()
        return services.SweepReport()

    beats: list[str] = []
    real_beat = services.beat
    monkeypatch.setattr(services, "sweep", fake_sweep)
    monkeypatch.setattr(services, "beat", lambda kind, **kw: (beats.append(kind), real_beat(kind)))
    try:
        SendSmsCommand().run_from_argv(["manage.py", "send_sms", "--loop", "--interval", "0.05"])
    except SystemExit as exc:
        assert not exc.code
    assert beats == ["loop"] * 3


def test_cron_sweep_and_flush_task_beat() -> None:
    call_command("send_sms", "--sweep", "--quiet")
    assert SmsWorker.objects.filter(kind="cron").count() == 1
    from django_smsrest.tasks import flush_queue_task

    flush_queue_task.call()
    assert SmsWorker.objects.filter(kind="task", pid=os.getpid()).count() == 1


# --- the read side ------------------------------------------------------------------------


def test_queue_health_counts_due_claims_and_the_oldest_due_wait() -> None:
    now = timezone.now()
    _queued(2, age=timedelta(minutes=3))
    # Retried with backoff: waiting only since its next attempt came due.
    _queued(1, age=timedelta(hours=2), next_attempt_at=now - timedelta(minutes=1))
    _queued(1, next_attempt_at=now + timedelta(minutes=5))  # queued, not due
    _queued(1, status=Status.SENDING, lease_until=now + timedelta(minutes=1))
    _queued(1, status=Status.SENDING, lease_until=now - timedelta(seconds=1))
    _queued(1, status=Status.UNKNOWN)
    _queued(1, status=Status.SENT)

    h = services.queue_health(now)
    assert (h.queued, h.due) == (4, 3)
    assert (h.open_claims, h.expired_claims, h.reconciling) == (2, 1, 1)
    assert timedelta(minutes=2, seconds=59) <= h.oldest_due_age < timedelta(minutes=3, seconds=30)
    assert h.healthy  # 3 minutes < the default 600 s


def test_queue_health_reads_two_queries_whatever_the_size() -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            services.queue_health()
        return len(queries)

    services.beat(WorkerKind.LOOP)
    small = count()
    _queued(30, age=timedelta(minutes=1))
    now = timezone.now()
    SmsWorker.objects.bulk_create(
        SmsWorker(name=f"task@h:{i}", host="h", pid=i, kind="task", started_at=now, last_seen=now)
        for i in range(20)
    )
    assert small == count() == 2


def test_unattended_when_due_messages_and_every_worker_is_silent() -> None:
    now = timezone.now()
    _queued(3)
    assert services.queue_health(now).unattended  # no worker ever seen
    services.beat(WorkerKind.LOOP, now=now - timedelta(minutes=1))
    assert not services.queue_health(now).unattended
    SmsWorker.objects.update(last_seen=now - timedelta(minutes=7))
    h = services.queue_health(now)
    assert h.unattended
    assert h.silence == timedelta(minutes=7)


# --- manage.py sms_health -----------------------------------------------------------------


def _health(capsys) -> tuple[int, str, str]:
    code = 0
    try:
        call_command("sms_health")
    except CommandError as exc:
        code = exc.returncode
        capsys.readouterr()
        return code, "", str(exc)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sms_health_exits_0_when_nothing_waited_too_long(capsys) -> None:
    _queued(2, age=timedelta(minutes=5))
    services.beat(WorkerKind.LOOP)
    code, out, _err = _health(capsys)
    assert code == 0
    assert "Queue: 2 queued, 2 due; oldest due waiting 300 s (limit 600 s)." in out
    assert "Claims: 0 being sent (0 past their lease), 0 being reconciled." in out
    assert "Workers (1):" in out
    assert "(send_sms --loop): last seen 0 s ago" in out
    assert out.rstrip().endswith("Healthy.")


def test_sms_health_exits_1_when_a_due_message_waited_longer_than_the_limit(capsys) -> None:
    _queued(1, age=timedelta(minutes=11))
    code, _out, err = _health(capsys)
    assert code == 1
    assert 'more than SMSREST["HEALTH_MAX_AGE_SECONDS"] (600 s)' in err


def test_sms_health_limit_is_a_setting(capsys, settings) -> None:
    _queued(1, age=timedelta(minutes=2))
    settings.SMSREST = {**settings.SMSREST, "HEALTH_MAX_AGE_SECONDS": 60}
    assert _health(capsys)[0] == 1
    settings.SMSREST = {**settings.SMSREST, "HEALTH_MAX_AGE_SECONDS": 3600}
    assert _health(capsys)[0] == 0


def test_sms_health_with_an_empty_outbox(capsys) -> None:
    code, out, _err = _health(capsys)
    assert code == 0
    assert "oldest due waiting none" in out
    assert "Workers: none seen yet." in out


def test_health_max_age_must_be_positive(settings) -> None:
    from django_smsrest.conf import settings_problems

    problems = settings_problems({"HEALTH_MAX_AGE_SECONDS": 0, "METRICS": "yes"})
    assert {p.key for p in problems} == {"HEALTH_MAX_AGE_SECONDS", "METRICS"}


# --- the dashboard ------------------------------------------------------------------------


@pytest.fixture
def admin_client_(db):
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _dashboard(client) -> str:
    from django.urls import reverse

    response = client.get(reverse("admin:django_smsrest_smsmessage_dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def test_dashboard_lists_the_workers_and_warns_when_none_was_seen_lately(admin_client_) -> None:
    now = timezone.now()
    _queued(3)
    SmsWorker.objects.create(
        name="loop@web1:42",
        host="web1",
        pid=42,
        kind="loop",
        started_at=now - timedelta(hours=1),
        last_seen=now - timedelta(minutes=7, seconds=5),
    )
    html = _dashboard(admin_client_)
    assert 'id="smsrest-workers"' in html
    assert "loop@web1:42" in html
    assert "No worker seen for 7 minutes while 3 messages are due." in html

    SmsWorker.objects.update(last_seen=timezone.now())
    html = _dashboard(admin_client_)
    assert "loop@web1:42" in html
    assert 'id="smsrest-workers-warning"' not in html


def test_dashboard_warns_when_no_worker_was_ever_seen(admin_client_) -> None:
    _queued(1)
    html = _dashboard(admin_client_)
    assert "No worker has been seen while 1 message is due" in html


def test_old_rows_of_restarted_workers_are_not_listed_but_the_last_seen_always_is() -> None:
    now = timezone.now()
    for i, minutes in enumerate((90, 120, 30, 5)):
        SmsWorker.objects.create(
            name=f"loop@h:{i}",
            host="h",
            pid=i,
            kind="loop",
            started_at=now - timedelta(hours=3),
            last_seen=now - timedelta(minutes=minutes),
        )
    assert [w.name for w in services.queue_health(now).workers] == ["loop@h:3", "loop@h:2"]
    SmsWorker.objects.filter(name__in=["loop@h:3", "loop@h:2"]).delete()
    h = services.queue_health(now)
    assert [w.name for w in h.workers] == ["loop@h:0"]  # the last one seen, 90 min ago
    assert h.silence == timedelta(minutes=90)
