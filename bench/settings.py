"""Django settings for benchmark runs (``DJANGO_SETTINGS_MODULE=bench.settings``).

Everything that changes between runs comes from the environment, so that ``bench/bench.py``
can start several processes (the measuring process, flush workers, RQ workers) on the same
database and the same sandbox:

``SMSREST_BENCH_DB``          ``sqlite`` (default) or ``postgres``.
``SMSREST_BENCH_SQLITE``      the SQLite file (default ``/tmp/smsrest-bench.sqlite3``); WAL,
                              ``BEGIN IMMEDIATE`` and a 30 s busy timeout, as docs/operations.rst
                              recommends for a project that runs workers on SQLite.
``SMSREST_BENCH_PG_NAME``     PostgreSQL database (default ``smsrest_bench``); ``_HOST``
                              (127.0.0.1), ``_PORT`` (5432), ``_USER`` (postgres),
                              ``_PASSWORD`` (empty).
``SMSREST_BENCH_BASE_URL``    the sandbox's REST base URL (``http://127.0.0.1:PORT/API/v1.0/REST/``,
                              ``https://`` when the sandbox serves TLS).
``SMSREST_BENCH_CA_BUNDLE``   over TLS: the CA bundle trusting the sandbox's certificate,
                              used as ``SMSREST["VERIFY_TLS"]`` (verification stays on).
``SMSREST_BENCH_TASKS``       ``dummy`` (default: enqueue records the task and runs
                              nothing, so ``queue_sms`` only writes rows) or ``immediate``.
``SMSREST_BENCH_MAX_RECIPIENTS``  ``MAX_RECIPIENTS_PER_ORDER`` (default: the app's default).
``SMSREST_BENCH_CONCURRENCY``     ``CONCURRENCY`` (default: the app's default, 4).
``SMSREST_BENCH_SQLITE_JOURNAL``  ``wal`` (default) or ``delete`` (SQLite's rollback journal,
                              its default when nothing is configured).

The sandbox's account is ``sandbox`` / ``sandbox``; nothing here is secret.
"""

from __future__ import annotations

import os

import django

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Europe/Rome"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_smsrest",
]
if django.VERSION < (6, 0):
    INSTALLED_APPS.append("django_tasks")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "/static/"
# The admin benchmark logs in a superuser; a fast hasher keeps set-up out of the numbers.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if os.environ.get("SMSREST_BENCH_DB", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("SMSREST_BENCH_PG_NAME", "smsrest_bench"),
            "USER": os.environ.get("SMSREST_BENCH_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("SMSREST_BENCH_PG_PASSWORD", ""),
            "HOST": os.environ.get("SMSREST_BENCH_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("SMSREST_BENCH_PG_PORT", "5432"),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SMSREST_BENCH_SQLITE", "/tmp/smsrest-bench.sqlite3"),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    if os.environ.get("SMSREST_BENCH_SQLITE_JOURNAL", "wal") == "wal"
                    else "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;"
                ),
            },
        }
    }

SMSREST: dict[str, object] = {
    "USERNAME": "sandbox",
    "PASSWORD": "sandbox",
    "BASE_URL": os.environ.get("SMSREST_BENCH_BASE_URL", "http://127.0.0.1:8025/API/v1.0/REST/"),
    "BACKEND": "django_smsrest.backends.rest.RestBackend",
    "DEFAULT_REGION": "IT",
}
if os.environ.get("SMSREST_BENCH_CA_BUNDLE"):
    SMSREST["VERIFY_TLS"] = os.environ["SMSREST_BENCH_CA_BUNDLE"]
if os.environ.get("SMSREST_BENCH_CONCURRENCY"):
    SMSREST["CONCURRENCY"] = int(os.environ["SMSREST_BENCH_CONCURRENCY"])
if os.environ.get("SMSREST_BENCH_MAX_RECIPIENTS"):
    SMSREST["MAX_RECIPIENTS_PER_ORDER"] = int(os.environ["SMSREST_BENCH_MAX_RECIPIENTS"])

_TASKS_MODULE = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
_TASK_BACKENDS = {
    "dummy": f"{_TASKS_MODULE}.backends.dummy.DummyBackend",
    "immediate": f"{_TASKS_MODULE}.backends.immediate.ImmediateBackend",
}
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[os.environ.get("SMSREST_BENCH_TASKS", "dummy")]}}

LANGUAGE_CODE = "en"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    # Warnings and errors only: a benchmark must not measure its own logging.
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
