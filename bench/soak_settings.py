"""Django settings of the soak run's processes (``bench/soak.py``): its producer, its
``send_sms --loop`` workers and its report. Self-contained (it does not build on
``bench.settings``), everything per run from the environment, set by ``bench/soak.py``:

``SMSREST_SOAK_DB``        ``sqlite:/path/file.sqlite3`` or ``postgres:NAME`` (server from
                           ``SMSREST_TEST_PG_HOST`` / ``_PORT`` / ``_USER`` / ``_PASSWORD``).
``SMSREST_SOAK_SMSREST``   a JSON object merged over ``SMSREST`` (the sandbox's URL, timeouts).
``SMSREST_SOAK_TASKS``     ``immediate`` (a worker: the sweep sends what is due itself) or
                           ``dummy`` (the producer: ``queue_sms`` only writes rows).
``SMSREST_SOAK_ROLE``      the PostgreSQL ``application_name``: the soak kills the
                           connections of its workers (``smsrest-soak-worker``) only.
"""

from __future__ import annotations

import json
import os

import django

SECRET_KEY = "soak-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Europe/Rome"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_smsrest"]
if django.VERSION < (6, 0):
    INSTALLED_APPS.append("django_tasks")

_DB = os.environ.get("SMSREST_SOAK_DB", "sqlite:/tmp/smsrest-soak.sqlite3")
if _DB.startswith("postgres:"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _DB.partition(":")[2],
            "USER": os.environ.get("SMSREST_TEST_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("SMSREST_TEST_PG_PASSWORD", ""),
            "HOST": os.environ.get("SMSREST_TEST_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("SMSREST_TEST_PG_PORT", "5432"),
            "OPTIONS": {
                "application_name": os.environ.get("SMSREST_SOAK_ROLE", "smsrest-soak"),
                "connect_timeout": 5,
            },
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _DB.partition(":")[2],
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
    "BACKEND": "django_smsrest.backends.rest.RestBackend",
    "DEFAULT_REGION": "IT",
    **json.loads(os.environ.get("SMSREST_SOAK_SMSREST", "{}")),
}

_TASKS_MODULE = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
_KIND = {"immediate": "ImmediateBackend", "dummy": "DummyBackend"}[
    os.environ.get("SMSREST_SOAK_TASKS", "immediate")
]
TASKS = {
    "default": {
        "BACKEND": f"{_TASKS_MODULE}.backends.{_KIND.removesuffix('Backend').lower()}.{_KIND}"
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "ERROR"},
}
