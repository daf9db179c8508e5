"""Settings for the worker processes of the multi-process reliability tests.

The reliability tests (``tests/test_reliability.py``, ``tests/test_crash_recovery.py``) run
real processes (``python -m django ... --settings=tests.worker_settings`` and
``python -m tests.reliability_worker``) against their OWN database, independent of
pytest-django's test database, which the workers could not see. Everything that differs per
run comes from the environment:

``SMSREST_RELIABILITY_DB``
    ``sqlite:/path/to/file.sqlite3`` or ``postgres:DATABASE_NAME`` (the server from the
    ``SMSREST_TEST_PG_*`` variables, like ``tests/settings.py``).
``SMSREST_RELIABILITY_SMSREST``
    a JSON object merged over the ``SMSREST`` below (``BASE_URL``, ``TIMEOUT``, ...).

The SQLite block is what docs/operations.rst recommends for several worker processes:
WAL (readers never wait for the writer), ``transaction_mode: IMMEDIATE`` (a transaction
takes the write lock when it starts, so writers queue on the busy timeout instead of
failing at once with "database is locked" when a read lock cannot be upgraded) and a busy
``timeout`` of 20 seconds.
"""

from __future__ import annotations

import json
import os

from django_smsrest.testing.tasks import DUMMY_TASK_BACKEND
from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS as _ALL_APPS
from tests.settings import PLUGIN_APPS as _PLUGIN_APPS

# The workers send and sweep; the plug-ins' apps would only slow every start (see
# tests/settings.py).
INSTALLED_APPS = [app for app in _ALL_APPS if app not in _PLUGIN_APPS]

_DB = os.environ.get("SMSREST_RELIABILITY_DB", "")
if _DB.startswith("postgres:"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _DB.partition(":")[2],
            "USER": os.environ.get("SMSREST_TEST_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("SMSREST_TEST_PG_PASSWORD", ""),
            "HOST": os.environ.get("SMSREST_TEST_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("SMSREST_TEST_PG_PORT", "5432"),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _DB.partition(":")[2] or os.path.join(os.getcwd(), "reliability.sqlite3"),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

SMSREST = {
    "USERNAME": "sandbox",
    "PASSWORD": "sandbox",
    "BASE_URL": "http://127.0.0.1:1/API/v1.0/REST/",
    "BACKEND": "django_smsrest.backends.rest.RestBackend",
    "DEFAULT_REGION": "IT",
    **json.loads(os.environ.get("SMSREST_RELIABILITY_SMSREST", "{}")),
}

# Task hints are only recorded: the workers send by flushing the queue, like a cron job or
# a worker pool would, and the sweeper re-enqueues what a lost hint left behind.
TASKS = {"default": {"BACKEND": DUMMY_TASK_BACKEND}}

# Errors from the app go to stderr (the test prints a worker's stderr when it fails).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django_smsrest": {"handlers": ["stderr"], "level": "WARNING"}},
}
