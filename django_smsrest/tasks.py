"""Background tasks (``django.tasks`` on Django 6, the ``django_tasks`` backport on 5.2).

Each task takes only primary keys and is a thin call into :mod:`django_smsrest.services`,
which makes it safe to run twice: the services claim the row first and a second run is a
no-op. Task results are JSON (a status string, a dict of counts, or ``None``).

Queue, backend and priority come from ``SMSREST['TASK_QUEUE']``, ``['TASK_BACKEND']`` and
``['TASK_PRIORITY']`` and are applied by :func:`enqueue` at enqueue time. The decorators use
the framework defaults on purpose: ``@task(queue_name="sms")`` would be validated when this
module is imported and break every project whose ``TASKS`` does not list that queue.

Importing this module creates the task objects, which makes ``django.tasks`` look at the
``TASKS`` setting; the services therefore import it lazily, only when they enqueue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

try:  # Django >= 6.0
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[no-redef,unused-ignore]

from django_smsrest.conf import get_settings

__all__ = [
    "enqueue",
    "enqueue_refresh",
    "enqueue_send",
    "refresh_status_task",
    "send_message_task",
    "sweep_task",
]


@task()
def send_message_task(message_id: int) -> str | None:
    """Send message ``message_id`` if it is queued and due; its new status, or ``None``
    when there was nothing to do (already claimed, sent, cancelled, or not due)."""
    from django_smsrest import services

    msg = services.send_message(message_id)
    return None if msg is None else str(msg.status)


@task()
def refresh_status_task(message_id: int) -> str | None:
    """Refresh the delivery status of ``message_id``; its status, or ``None`` if it is gone."""
    from django_smsrest import services
    from django_smsrest.models import SmsMessage

    try:
        return str(services.refresh_status(message_id).status)
    except SmsMessage.DoesNotExist:
        return None


@task()
def sweep_task() -> dict[str, Any]:
    """Run :func:`django_smsrest.services.sweep`; schedule it every minute or so."""
    from django_smsrest import services

    report = services.sweep()
    return {
        "expired_leases": report.expired_leases,
        "reconciled": dict(report.reconciled),
        "enqueued": report.enqueued,
        "refreshed": report.refreshed,
        "errors": report.errors,
    }


def enqueue(task_obj: Any, *args: Any, run_after: datetime | None = None) -> Any:
    """Enqueue ``task_obj(*args)`` on the configured task backend, queue and priority;
    return the ``TaskResult``. ``run_after`` is passed only to backends that support it
    (``supports_defer``) and silently dropped for the others (ImmediateBackend): the
    outbox's sweeper picks up a message whose retry time has come in any case."""
    conf = get_settings()
    configured = task_obj.using(
        queue_name=conf.task_queue, backend=conf.task_backend, priority=conf.task_priority
    )
    if run_after is not None:
        if not configured.get_backend().supports_defer:
            return None
        configured = configured.using(run_after=run_after)
    return configured.enqueue(*args)


def enqueue_send(message_id: int, *, run_after: datetime | None = None) -> Any:
    """Hint a worker to send ``message_id`` (call it from ``transaction.on_commit``)."""
    return enqueue(send_message_task, message_id, run_after=run_after)


def enqueue_refresh(message_id: int) -> Any:
    """Hint a worker to refresh the delivery status of ``message_id``."""
    return enqueue(refresh_status_task, message_id)
