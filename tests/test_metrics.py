"""Prometheus metrics (issue 21, item 5): nothing registered unless ``SMSREST["METRICS"]``;
the collector's gauges read at scrape time in a constant number of queries; the sending
process's gateway histogram and POST counters; the view; check E009."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import timezone

from django_smsrest import metrics, services
from django_smsrest.backends import observe
from django_smsrest.models import SmsMessage, SmsWorker, Status
from django_smsrest.services import health
from django_smsrest.testing.tasks import no_task_worker

prometheus_client = pytest.importorskip("prometheus_client")

pytestmark = pytest.mark.django_db

NUMBER = "+393471234567"

urlpatterns = [path("metrics", metrics.metrics_view)]


@pytest.fixture
def registry():
    """A registry of the test's own, with the app's metrics installed in it."""
    reg = prometheus_client.CollectorRegistry()
    metrics.uninstall()
    with CaptureQueriesContext(connection) as queries:
        assert metrics.install(reg)
    assert len(queries) == 0  # registering reads nothing (describe() has no samples)
    assert not metrics.install(reg)  # idempotent
    health.forget_beats()
    yield reg
    metrics.uninstall()
    health.forget_beats()


def _scrape(reg) -> str:
    return prometheus_client.generate_latest(reg).decode()


def _value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"{sample} not in:\n{text}"
    return float(match.group(1))


def _messages(n: int, **fields) -> None:
    with no_task_worker:
        msgs = [services.queue_sms("Hi", [NUMBER]) for _ in range(n)]
    SmsMessage.objects.filter(pk__in=[m.pk for m in msgs]).update(**fields)


def test_nothing_is_registered_while_metrics_are_off() -> None:
    # tests.settings has no METRICS: the app's ready() registered nothing.
    assert not metrics.metrics_enabled()
    names = prometheus_client.REGISTRY._names_to_collectors  # no public listing
    assert not [name for name in names if name.startswith("smsrest_")]


def test_gauges_read_the_outbox_at_scrape_time(registry) -> None:
    now = timezone.now()
    _messages(2, created_at=now - timedelta(minutes=4))
    _messages(1, status=Status.SENDING, lease_until=now + timedelta(minutes=1))
    _messages(1, status=Status.SENT, remaining_credits=900, message_type="N")
    _messages(1, status=Status.SENT, remaining_credits=850, message_type="N")
    _messages(1, status=Status.SENT, remaining_credits=40, message_type="L")
    services.beat("loop")

    text = _scrape(registry)
    assert _value(text, "smsrest_up") == 1
    assert _value(text, "smsrest_queue_due_messages") == 2
    assert _value(text, "smsrest_queue_open_claims") == 1
    assert 239 <= _value(text, "smsrest_queue_oldest_due_age_seconds") < 300
    assert _value(text, 'smsrest_messages{status="queued"}') == 2
    assert _value(text, 'smsrest_messages{status="sent"}') == 3
    assert _value(text, 'smsrest_messages{status="failed"}') == 0
    # The latest report of each type.
    assert _value(text, 'smsrest_credits{message_type="N"}') == 850
    assert _value(text, 'smsrest_credits{message_type="L"}') == 40
    worker = SmsWorker.objects.get()
    sample = (
        f'smsrest_worker_last_seen_timestamp_seconds{{host="{worker.host}",kind="loop",'
        f'worker="{worker.name}"}}'
    )
    assert _value(text, sample) == pytest.approx(worker.last_seen.timestamp())

    # Read again at the next scrape, not cached.
    SmsMessage.objects.filter(status=Status.QUEUED).update(status=Status.SENT)
    assert _value(_scrape(registry), "smsrest_queue_due_messages") == 0


def test_a_scrape_costs_four_queries_whatever_the_size(registry) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            _scrape(registry)
        return len(ctx)

    _messages(1, status=Status.SENT, remaining_credits=10, message_type="N")
    small = queries()
    now = timezone.now()
    _messages(40)
    for mtype in ("N", "L", "LL"):
        _messages(5, status=Status.SENT, remaining_credits=7, message_type=mtype)
    _messages(5, status=Status.FAILED)
    SmsWorker.objects.bulk_create(
        SmsWorker(name=f"task@h:{i}", host="h", pid=i, kind="task", started_at=now, last_seen=now)
        for i in range(25)
    )
    assert small == queries() == 4


def test_a_database_error_gives_smsrest_up_0_not_a_failed_scrape(registry, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise DatabaseError("the database is restarting")

    monkeypatch.setattr(services, "metrics_snapshot", broken)
    text = _scrape(registry)
    assert _value(text, "smsrest_up") == 0
    assert "smsrest_queue_due_messages " not in text


def test_gateway_calls_are_timed_and_posts_counted_by_outcome(
    registry, smsrest_sandbox_settings
) -> None:
    sandbox = smsrest_sandbox_settings
    assert services.send_sms("one", [NUMBER]).status == Status.SENT
    sandbox.configure(rate_limit_next=1)
    with no_task_worker:
        msg = services.send_sms("two", [NUMBER])
    assert msg.status == Status.QUEUED  # 429: retried later

    text = _scrape(registry)
    assert _value(text, 'smsrest_gateway_posts_total{outcome="ok"}') == 1
    assert _value(text, 'smsrest_gateway_posts_total{outcome="rate_limited"}') == 1
    assert _value(text, 'smsrest_gateway_call_seconds_count{call="send"}') == 2
    assert _value(text, 'smsrest_gateway_call_seconds_sum{call="send"}') > 0


def test_no_observer_no_measuring() -> None:
    metrics.uninstall()
    calls: list[tuple[str, str, float]] = []
    with observe.observed("send"):
        pass
    observe.add_observer(lambda *args: calls.append(args))
    try:
        with pytest.raises(DatabaseError), observe.observed("send"):
            raise DatabaseError("x")
    finally:
        observe._observers = ()
    assert [(c, o) for c, o, _s in calls] == [("send", "error")]


def test_a_failing_observer_never_breaks_a_call(caplog) -> None:
    def broken(*args):
        raise RuntimeError("observer bug")

    observe.add_observer(broken)
    try:
        with observe.observed("get_order"):
            value = 42
    finally:
        observe.remove_observer(broken)
    assert value == 42
    assert "A gateway call observer failed" in caplog.text


@pytest.mark.urls(__name__)
def test_the_view_is_404_while_off_and_serves_the_registry_when_on(settings) -> None:
    client = Client()
    assert client.get("/metrics").status_code == 404
    settings.SMSREST = {**settings.SMSREST, "METRICS": True}
    metrics.uninstall()
    metrics.install()  # the default REGISTRY, as AppConfig.ready does
    try:
        response = client.get("/metrics")
    finally:
        metrics.uninstall()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "smsrest_queue_due_messages 0.0" in response.content.decode()


def test_check_e009_when_prometheus_client_is_missing(settings, monkeypatch) -> None:
    from django_smsrest import checks

    settings.SMSREST = {**settings.SMSREST, "METRICS": True}
    assert checks.check_metrics() == []
    monkeypatch.setattr(metrics, "prometheus_missing", lambda: True)
    [error] = checks.check_metrics()
    assert error.id == "django_smsrest.E009"
    assert 'pip install "django-smsrest[metrics]"' in error.msg


def test_app_ready_registers_in_the_default_registry_when_metrics_are_on(settings) -> None:
    from django.apps import apps

    metrics.uninstall()
    settings.SMSREST = {**settings.SMSREST, "METRICS": True}
    try:
        apps.get_app_config("django_smsrest").ready()
        names = prometheus_client.REGISTRY._names_to_collectors
        assert "smsrest_queue_due_messages" in names
        assert "smsrest_gateway_call_seconds" in names
    finally:
        metrics.uninstall()
    assert "smsrest_queue_due_messages" not in prometheus_client.REGISTRY._names_to_collectors
