"""Prometheus metrics (the ``metrics`` extra: ``pip install "django-smsrest[metrics]"``).

With ``SMSREST["METRICS"] = True`` the app, when Django starts (``AppConfig.ready``, never
at import), registers in prometheus-client's default ``REGISTRY``:

* :class:`OutboxCollector`: gauges read from the database at scrape time, in four queries
  whatever the size of the outbox (:func:`django_smsrest.services.metrics_snapshot`):
  ``smsrest_queue_due_messages``, ``smsrest_queue_queued_messages``,
  ``smsrest_queue_oldest_due_age_seconds``, ``smsrest_queue_open_claims``,
  ``smsrest_queue_expired_claims``, ``smsrest_queue_reconciling_messages``,
  ``smsrest_messages{status}``, ``smsrest_credits{message_type}``,
  ``smsrest_worker_last_seen_timestamp_seconds{worker,kind,host}``,
  ``smsrest_health_max_age_seconds`` and ``smsrest_up`` (0 when the database could not be
  read; the other gauges are then left out instead of failing the whole scrape);
* this process's gateway calls (:mod:`django_smsrest.backends.observe`):
  ``smsrest_gateway_call_seconds{call}`` (a histogram) and
  ``smsrest_gateway_posts_total{outcome}``. They count what *this* process sent: scrape the
  worker processes for them (see ``docs/monitoring.rst``).

django-prometheus' ``/metrics`` shows all of it; a project without it mounts
:func:`metrics_view`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse

from django_smsrest.backends import observe
from django_smsrest.conf import SETTING_NAME

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from django_smsrest.services.health import MetricsSnapshot, QueueHealth

logger = logging.getLogger("django_smsrest.metrics")

__all__ = ["OutboxCollector", "install", "metrics_enabled", "metrics_view", "uninstall"]

#: Buckets of ``smsrest_gateway_call_seconds``: from a fast answer to the read timeout.
CALL_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)

MISSING = (
    f"{SETTING_NAME}['METRICS'] is True but prometheus-client is not installed: "
    'pip install "django-smsrest[metrics]"'
)


def metrics_enabled() -> bool:
    """``SMSREST["METRICS"] is True`` (read leniently: a wrong value is the system check's
    to report, not a reason to stop Django from starting)."""
    from django.conf import settings

    raw = getattr(settings, SETTING_NAME, None) or {}
    return isinstance(raw, dict) and raw.get("METRICS") is True


def prometheus_missing() -> bool:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return True
    return False


#: The gauges without labels, in the order of the exposition: (name, help).
SCALARS = (
    ("smsrest_up", "1 when the outbox could be read for this scrape."),
    ("smsrest_queue_due_messages", "Queued messages that are due now."),
    ("smsrest_queue_queued_messages", "Queued messages, due or not."),
    (
        "smsrest_queue_oldest_due_age_seconds",
        "How long the longest-waiting due message has waited (0: none is due).",
    ),
    ("smsrest_queue_open_claims", "Messages claimed by a worker and being sent (SENDING)."),
    (
        "smsrest_queue_expired_claims",
        "SENDING messages whose lease ran out (their worker stopped).",
    ),
    (
        "smsrest_queue_reconciling_messages",
        "Messages whose outcome is being checked with the gateway (UNKNOWN).",
    ),
    (
        "smsrest_health_max_age_seconds",
        'SMSREST["HEALTH_MAX_AGE_SECONDS"]: sms_health fails past this wait.',
    ),
)


def _scalars(h: QueueHealth) -> dict[str, float]:
    age = h.oldest_due_age
    return {
        "smsrest_queue_due_messages": h.due,
        "smsrest_queue_queued_messages": h.queued,
        "smsrest_queue_oldest_due_age_seconds": age.total_seconds() if age else 0.0,
        "smsrest_queue_open_claims": h.open_claims,
        "smsrest_queue_expired_claims": h.expired_claims,
        "smsrest_queue_reconciling_messages": h.reconciling,
        "smsrest_health_max_age_seconds": h.max_age.total_seconds(),
    }


class OutboxCollector:
    """The outbox's gauges, read from the database at each scrape (four queries)."""

    def describe(self) -> list[Any]:
        # Given to REGISTRY.register() so that registering reads nothing: without it the
        # registry would call collect(), a database read at start-up.
        return list(self._families(None, up=None))

    def collect(self) -> Iterator[Any]:
        # Imported here: AppConfig.ready imports this module, and a project with the
        # metrics off should not load the services at start-up for it.
        from django_smsrest import services

        try:
            snapshot = services.metrics_snapshot()
        except DatabaseError as exc:
            # One failing source must not fail the whole scrape (django-prometheus serves
            # every other metric of the project from the same registry).
            logger.warning("Could not read the outbox for the metrics: %s", exc)
            yield from list(self._families(None, up=0))[:1]
            return
        yield from self._families(snapshot, up=1)

    @staticmethod
    def _families(snap: MetricsSnapshot | None, up: int | None) -> Iterator[Any]:
        """Every family, with its samples from ``snap`` (none when ``snap`` is None)."""
        from prometheus_client.core import GaugeMetricFamily

        values = _scalars(snap.health) if snap is not None else {}
        if up is not None:
            values["smsrest_up"] = float(up)
        for name, doc in SCALARS:
            family = GaugeMetricFamily(name, doc)
            if name in values:
                family.add_metric([], values[name])
            yield family
        statuses = GaugeMetricFamily("smsrest_messages", "Messages by status.", labels=["status"])
        credits = GaugeMetricFamily(
            "smsrest_credits",
            "Remaining credits by message type, as the gateway last reported them.",
            labels=["message_type"],
        )
        seen = GaugeMetricFamily(
            "smsrest_worker_last_seen_timestamp_seconds",
            "When each outbox worker was last seen (Unix time).",
            labels=["worker", "kind", "host"],
        )
        if snap is not None:
            for status, n in sorted(snap.by_status.items()):
                statuses.add_metric([status], n)
            for mtype, left in sorted(snap.credits.items()):
                credits.add_metric([mtype], left)
            for w in snap.health.workers:
                seen.add_metric([w.name, w.kind, w.host], w.last_seen.timestamp())
        yield statuses
        yield credits
        yield seen


@dataclass
class _Installed:
    registry: CollectorRegistry
    collector: OutboxCollector
    observer: observe.Observer
    process_metrics: list[Any]


_lock = threading.Lock()
_installed: _Installed | None = None


def install(registry: CollectorRegistry | None = None) -> bool:
    """Register the collector and this process's gateway metrics in ``registry``
    (prometheus-client's default ``REGISTRY`` when ``None``). Idempotent: ``False`` when
    already installed. Called by ``AppConfig.ready`` when ``SMSREST["METRICS"]`` is on."""
    global _installed
    from prometheus_client import REGISTRY, Counter, Histogram

    registry = registry if registry is not None else REGISTRY
    with _lock:
        if _installed is not None:
            return False
        calls = Histogram(
            "smsrest_gateway_call_seconds",
            "Seconds each gateway call of this process took, by call.",
            ["call"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        posts = Counter(
            "smsrest_gateway_posts",
            "POSTs of orders by this process, by outcome (ok: accepted).",
            ["outcome"],
            registry=registry,
        )

        def observer(call: str, outcome: str, seconds: float) -> None:
            calls.labels(call).observe(seconds)
            if call == "send":
                posts.labels(outcome).inc()

        collector = OutboxCollector()
        registry.register(collector)
        observe.add_observer(observer)
        _installed = _Installed(registry, collector, observer, [calls, posts])
    return True


def uninstall() -> None:
    """Undo :func:`install` (tests)."""
    global _installed
    with _lock:
        if _installed is None:
            return
        observe.remove_observer(_installed.observer)
        _installed.registry.unregister(_installed.collector)
        for metric in _installed.process_metrics:
            _installed.registry.unregister(metric)
        _installed = None


def install_if_enabled() -> None:
    """:func:`install` when ``SMSREST["METRICS"]`` is on and prometheus-client is there
    (when it is not, system check ``django_smsrest.E009`` says so)."""
    if metrics_enabled() and not prometheus_missing():
        install()


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The default registry in Prometheus' text format, for a project without
    django-prometheus: ``path("metrics", metrics_view)``. 404 while ``METRICS`` is off.
    Mount it where only the Prometheus server can reach it (it tells the queue's size
    and the credits left)."""
    if not metrics_enabled() or prometheus_missing():
        raise Http404("metrics are off")
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
