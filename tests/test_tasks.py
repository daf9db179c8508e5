"""Tasks: enqueued on commit only, on the configured backend/queue/priority, safe twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import django
import pytest
from django.test import override_settings

from django_smsrest import dispatch, services, tasks
from django_smsrest.backends import locmem
from django_smsrest.exceptions import GatewayConnectionError
from django_smsrest.models import SmsMessage, Status
from django_smsrest.testing import outbox as outbox_helpers
from django_smsrest.testing.tasks import DUMMY_TASK_BACKEND as DUMMY
from tests.settings import SMSREST

if django.VERSION >= (6, 0):  # pragma: no cover - depends on the Django under test
    from django.tasks import task_backends  # type: ignore[import-not-found,unused-ignore]
else:
    from django_tasks import task_backends

pytestmark = pytest.mark.django_db
A = "+393471234567"

# The package's pytest fixture (an empty locmem outbox per test).
sms_outbox = outbox_helpers.sms_outbox


@pytest.fixture
def dummy() -> Iterator[Any]:
    """A DummyBackend as "default" plus a "workers" alias, and SMSREST pointing at the
    "workers" backend, queue "sms", priority 5."""
    with override_settings(
        TASKS={
            "default": {"BACKEND": DUMMY},
            "workers": {"BACKEND": DUMMY, "QUEUES": ["default", "sms"]},
        },
        SMSREST={**SMSREST, "TASK_BACKEND": "workers", "TASK_QUEUE": "sms", "TASK_PRIORITY": 5},
    ):
        backend = task_backends["workers"]
        backend.clear()
        yield backend
        backend.clear()


def test_queue_sms_enqueues_only_on_commit_with_the_configured_queue(
    dummy: Any, sms_outbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        msg = services.queue_sms("Hello", [A])
        assert dummy.results == []  # nothing before the commit
    assert len(callbacks) == 1
    callbacks[0]()  # the commit
    [result] = dummy.results
    assert result.task.func is tasks.send_message_task.func
    assert result.task.queue_name == "sms" and result.task.priority == 5
    assert result.backend == "workers"
    assert list(result.args) == [msg.pk]
    json.dumps([result.args, result.kwargs])  # only JSON-safe arguments
    msg.refresh_from_db()
    assert msg.status == Status.QUEUED and sms_outbox == []  # DummyBackend only records


def test_a_rolled_back_transaction_enqueues_nothing(dummy: Any, sms_outbox: list) -> None:
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        services.queue_sms("Hello", [A])
        raise RuntimeError
    assert dummy.results == [] and SmsMessage.objects.count() == 0


def test_the_task_is_safe_to_run_twice(dummy: Any, sms_outbox: list) -> None:
    msg = services.queue_sms("Hello", [A])
    assert tasks.send_message_task.call(msg.pk) == Status.SENT
    assert tasks.send_message_task.call(msg.pk) is None
    assert len(sms_outbox) == 1


def test_immediate_backend_sends_at_commit(
    sms_outbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        msg = services.queue_sms("Hello", [A])
        assert sms_outbox == []
    msg.refresh_from_db()
    assert msg.status == Status.SENT and len(sms_outbox) == 1


def test_retry_is_hinted_with_run_after_where_the_backend_can_defer(
    dummy: Any, sms_outbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    msg = services.queue_sms("Hello", [A])
    locmem.fail_next("send", GatewayConnectionError("refused"))
    with django_capture_on_commit_callbacks(execute=True):
        msg = tasks.send_message_task.call(msg.pk)
    assert msg == Status.QUEUED
    row = SmsMessage.objects.get()
    [result] = dummy.results
    assert result.task.run_after == row.next_attempt_at and result.task.queue_name == "sms"


def test_enqueue_without_defer_support_drops_run_after(sms_outbox: list) -> None:
    from django.utils import timezone

    assert dispatch.enqueue_send(1, run_after=timezone.now()) is None  # ImmediateBackend


def test_sweep_task_returns_json(sms_outbox: list) -> None:
    # Delivery states are refreshed by the sweep (refresh_due_statuses), never by a task
    # of their own: there is none.
    assert not hasattr(tasks, "refresh_status_task")
    assert not hasattr(dispatch, "enqueue_refresh")
    report = tasks.sweep_task.call()
    json.dumps(report)
    assert report["expired_leases"] == 0


def test_sweep_task_through_the_backend(sms_outbox: list) -> None:
    result = dispatch.enqueue("django_smsrest.tasks.sweep_task")
    assert result.status == "SUCCESSFUL", result.errors


def test_decorators_use_the_framework_defaults() -> None:
    """A queue chosen in the decorator would be validated at import and break projects
    whose TASKS does not list it; the configured queue is applied at enqueue time."""
    for task_obj in (tasks.send_message_task, tasks.flush_queue_task, tasks.sweep_task):
        assert (task_obj.queue_name, task_obj.backend, task_obj.priority) == (
            "default",
            "default",
            0,
        )
