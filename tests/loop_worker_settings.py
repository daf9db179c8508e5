"""Settings for a ``send_sms --loop`` worker process in the worker tests: those of
:mod:`tests.worker_settings` (its own database, ``SMSREST`` from the environment), but with
the ``ImmediateBackend``, so that the loop's sweep sends the due queue itself, as a loop
worker without a task queue does in production."""

from __future__ import annotations

from django_smsrest.testing.tasks import IMMEDIATE_TASK_BACKEND
from tests.worker_settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": IMMEDIATE_TASK_BACKEND}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django_smsrest": {"handlers": ["stderr"], "level": "INFO"}},
}
