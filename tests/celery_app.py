"""The Celery application of the Celery scale-out test (tests/test_celery_scale_out.py),
wired as docs/monitoring.rst "Scale out" says: settings from Django's (``CELERY_*``), the
app's tasks imported by the worker (``django_smsrest.tasks``), where django-tasks-celery
registers them with Celery. ``celery -A tests.celery_app worker`` runs it; Celery's Django
fix-up calls ``django.setup()`` in the worker."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.celery_worker_settings")

app = Celery("smsrest_test")
app.config_from_object("django.conf:settings", namespace="CELERY")
