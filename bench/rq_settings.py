"""Benchmark settings with RQ as the task backend (``DJANGO_SETTINGS_MODULE=bench.rq_settings``).

Wiring for Django 5.2 + the ``django_tasks`` backport (django-tasks-rq 0.12, django-rq 4):
``django_rq`` and ``django_tasks_rq`` in ``INSTALLED_APPS``; ``TASKS`` uses
``django_tasks_rq.RQBackend``; every queue in ``TASKS[...]["QUEUES"]`` must also be in
``RQ_QUEUES``; workers run ``manage.py rqworker --job-class django_tasks_rq.Job QUEUE``.

The app's tasks go to a queue of their own (``SMSREST['TASK_QUEUE']``), so the benchmark
never touches another queue on the same Redis. Environment: ``SMSREST_BENCH_REDIS_HOST``
(127.0.0.1), ``_PORT`` (6379), ``_DB`` (0), ``SMSREST_BENCH_RQ_QUEUE`` (smsrest-bench),
plus everything :mod:`bench.settings` reads.
"""

from __future__ import annotations

import os

from bench.settings import *  # noqa: F403
from bench.settings import INSTALLED_APPS, SMSREST

RQ_QUEUE = os.environ.get("SMSREST_BENCH_RQ_QUEUE", "smsrest-bench")

INSTALLED_APPS = [*INSTALLED_APPS, "django_rq", "django_tasks_rq"]

RQ_QUEUES = {
    name: {
        "HOST": os.environ.get("SMSREST_BENCH_REDIS_HOST", "127.0.0.1"),
        "PORT": int(os.environ.get("SMSREST_BENCH_REDIS_PORT", "6379")),
        "DB": int(os.environ.get("SMSREST_BENCH_REDIS_DB", "0")),
        "DEFAULT_TIMEOUT": 120,
    }
    for name in ("default", RQ_QUEUE)
}

TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", RQ_QUEUE]}}

SMSREST = {**SMSREST, "TASK_QUEUE": RQ_QUEUE}
