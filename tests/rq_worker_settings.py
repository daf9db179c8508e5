"""Settings of the RQ scale-out test (tests/test_rq_scale_out.py): the reliability
workers' settings (:mod:`tests.worker_settings`: the database and ``SMSREST`` from the
environment) with django-tasks-rq as the task backend, wired as docs/background.rst says:
``django_rq`` and ``django_tasks_rq`` installed, ``TASKS`` on ``django_tasks_rq.RQBackend``,
every queue also in ``RQ_QUEUES``. The queue is the run's own (``SMSREST_RQ_TEST_QUEUE``),
so the test never touches another queue on the same Redis."""

from __future__ import annotations

import os

from tests.worker_settings import *  # noqa: F403
from tests.worker_settings import INSTALLED_APPS, SMSREST

RQ_QUEUE = os.environ.get("SMSREST_RQ_TEST_QUEUE", "smsrest-test")

INSTALLED_APPS = [*INSTALLED_APPS, "django_rq", "django_tasks_rq"]

RQ_QUEUES = {
    name: {
        "HOST": os.environ.get("SMSREST_TEST_REDIS_HOST", "127.0.0.1"),
        "PORT": int(os.environ.get("SMSREST_TEST_REDIS_PORT", "6379")),
        "DB": 0,
        "DEFAULT_TIMEOUT": 120,
    }
    for name in ("default", RQ_QUEUE)
}

TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", RQ_QUEUE]}}

SMSREST = {**SMSREST, "TASK_QUEUE": RQ_QUEUE}
