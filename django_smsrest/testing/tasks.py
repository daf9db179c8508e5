"""Task backends for tests: the dotted paths on this Django version, and an override under
which enqueued tasks are only recorded, so queued messages stay QUEUED.

    from django_smsrest.testing import no_task_worker

    @no_task_worker
    def test_the_view_queues_a_reminder(): ...
"""

from __future__ import annotations

import django
from django.test import override_settings

# django.tasks is built into Django 6; Django 5.2 uses the django-tasks backport.
TASKS_MODULE = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
DUMMY_TASK_BACKEND = f"{TASKS_MODULE}.backends.dummy.DummyBackend"
IMMEDIATE_TASK_BACKEND = f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"

#: Decorator / context manager: tasks are recorded by the DummyBackend and never run.
no_task_worker = override_settings(TASKS={"default": {"BACKEND": DUMMY_TASK_BACKEND}})

__all__ = ["DUMMY_TASK_BACKEND", "IMMEDIATE_TASK_BACKEND", "TASKS_MODULE", "no_task_worker"]
