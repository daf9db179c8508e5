"""Hand work to the task backend: the one place the services enqueue from.

The services enqueue task hints and the tasks call the services. Importing the task module
here would close that loop (and would create the task objects, which makes ``django.tasks``
read ``TASKS``, at import time). So the tasks are looked up by their import path when a hint
is sent: this module imports nothing above it, and import-linter's layer contract in
``pyproject.toml`` keeps it that way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.module_loading import import_string

from django_smsrest.conf import get_settings

SEND_TASK = "django_smsrest.tasks.send_message_task"
FLUSH_TASK = "django_smsrest.tasks.flush_queue_task"


def enqueue(
    task_path: str, *args: Any, run_after: datetime | None = None, priority: int | None = None
) -> Any:
    """Enqueue the task at ``task_path`` with ``args`` on the configured task backend,
    queue and priority; return the ``TaskResult``. ``run_after`` is passed only to backends
    that support it (``supports_defer``) and dropped for the others (ImmediateBackend): the
    sweeper picks up a message whose retry time has come in any case. ``priority``
    overrides ``TASK_PRIORITY`` (a login code's hint goes ahead of the bulk queue's)."""
    conf = get_settings()
    configured = import_string(task_path).using(
        queue_name=conf.task_queue,
        backend=conf.task_backend,
        priority=conf.task_priority if priority is None else priority,
    )
    if run_after is not None:
        if not configured.get_backend().supports_defer:
            return None
        configured = configured.using(run_after=run_after)
    return configured.enqueue(*args)


def enqueue_send(
    message_id: int, *, run_after: datetime | None = None, priority: int | None = None
) -> Any:
    """Hint a worker to send ``message_id`` (call it from ``transaction.on_commit``)."""
    return enqueue(SEND_TASK, message_id, run_after=run_after, priority=priority)


def enqueue_flush(limit: int) -> Any:
    """Hint a worker to send up to ``limit`` due messages in one flush (one hint for a
    batch of messages queued together: ``services.queue_many``)."""
    return enqueue(FLUSH_TASK, limit)


def runs_inline() -> bool:
    """Whether the configured task backend runs a task inside ``enqueue()`` (Django's
    ``ImmediateBackend``, the default): then there is no worker to hand work to, and a
    sweep sends the due queue itself, with the flush's brakes, instead of enqueueing one
    task per message that would each run, unbraked, at commit."""
    try:  # Django >= 6.0
        from django.tasks import task_backends  # type: ignore[import-not-found,unused-ignore]
        from django.tasks.backends.immediate import (  # type: ignore[import-not-found,unused-ignore]
            ImmediateBackend,
        )
    except ImportError:  # Django 5.2: the backport
        from django_tasks import task_backends  # type: ignore[no-redef,assignment,unused-ignore]
        from django_tasks.backends.immediate import (  # type: ignore[no-redef,assignment,unused-ignore]
            ImmediateBackend,
        )
    return isinstance(task_backends[get_settings().task_backend], ImmediateBackend)
