"""Background tasks (``django.tasks`` on Django 6, the ``django_tasks`` backport on 5.2).

Each task takes only primary keys and is a thin call into :mod:`django_smsrest.services`,
which makes it safe to run twice: the services claim the row first and a second run is a
no-op. Task results are JSON (a status string, a dict of counts, or ``None``).

Queue, backend and priority come from ``SMSREST['TASK_QUEUE']``, ``['TASK_BACKEND']`` and
``['TASK_PRIORITY']`` and are applied by :func:`django_smsrest.dispatch.enqueue` at enqueue
time. The decorators use
the framework defaults on purpose: ``@task(queue_name="sms")`` would be validated when this
module is imported and break every project whose ``TASKS`` does not list that queue.

Importing this module creates the task objects, which makes ``django.tasks`` look at the
``TASKS`` setting; :mod:`django_smsrest.dispatch` therefore finds them by import path, only
when it enqueues, and the services never import this module.
"""

from __future__ import annotations

from typing import Any

try:  # Django >= 6.0
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[no-redef,unused-ignore]

from django_smsrest import services
from django_smsrest.models import WorkerKind

__all__ = [
    "flush_queue_task",
    "send_message_task",
    "sweep_task",
]


@task()
def send_message_task(message_id: int) -> str | None:
    """Send message ``message_id`` if it is queued and due; its new status, or ``None``
    when there was nothing to do (already claimed, sent, cancelled, or not due)."""
    msg = services.send_message(message_id)
    return None if msg is None else str(msg.status)


@task()
def flush_queue_task(limit: int | None = None) -> dict[str, Any]:
    """Run :func:`django_smsrest.services.flush_queue` in the worker: every due queued
    message, ``SMSREST['CONCURRENCY']`` requests in flight over one login per worker
    process. Several workers may flush at once (batched claims skip each other's rows).
    Records the worker's heartbeat (:func:`django_smsrest.services.beat`)."""
    services.beat(WorkerKind.TASK)
    report = services.flush_queue(limit=limit)
    return {
        "by_status": dict(report.by_status),
        "skipped": report.skipped,
        "errors": report.errors,
        "stopped_early": report.stopped_early,
    }


@task()
def sweep_task() -> dict[str, Any]:
    """Run :func:`django_smsrest.services.sweep`; schedule it every minute or so. Records
    the worker's heartbeat (:func:`django_smsrest.services.beat`)."""
    services.beat(WorkerKind.TASK)
    report = services.sweep()
    return {
        "expired_leases": report.expired_leases,
        "reconciled": dict(report.reconciled),
        "enqueued": report.enqueued,
        "refreshed": report.refreshed,
        "errors": report.errors,
    }
