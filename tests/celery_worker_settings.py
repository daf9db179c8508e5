"""Settings of the Celery scale-out test (tests/test_celery_scale_out.py): the reliability
workers' settings (:mod:`tests.worker_settings`: the database and ``SMSREST`` from the
environment) with django-tasks-celery as the task backend on a RabbitMQ broker
(``SMSREST_TEST_AMQP_URL``, default ``amqp://guest:guest@127.0.0.1:5672//``). The queue is
the run's own (``SMSREST_CELERY_TEST_QUEUE``), so the test never touches another queue on
the same broker."""

from __future__ import annotations

import os

from tests.worker_settings import *  # noqa: F403
from tests.worker_settings import SMSREST

CELERY_QUEUE = os.environ.get("SMSREST_CELERY_TEST_QUEUE", "smsrest_test")

TASKS = {
    "default": {
        "BACKEND": "django_tasks_celery.CeleryBackend",
        "QUEUES": ["default", CELERY_QUEUE],
        "OPTIONS": {"CELERY_APP": "tests.celery_app.app"},
    }
}

CELERY_BROKER_URL = os.environ.get("SMSREST_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
CELERY_IMPORTS = ["django_smsrest.tasks"]
# One flush task per worker process: take one message at a time from the broker.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# No remote-control queue (pidbox) or events on the shared broker: only the run's queue.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TASK_DEFAULT_QUEUE = CELERY_QUEUE

SMSREST = {**SMSREST, "TASK_QUEUE": CELERY_QUEUE}
