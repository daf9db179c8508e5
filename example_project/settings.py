"""Settings of the example project.

Everything that differs between machines comes from the environment or from
``example_project/.env`` (see ``.env.example``), read with django-environ; real environment
variables win over the file. With nothing configured the project uses SQLite and the local
sandbox gateway on http://127.0.0.1:8765/API/v1.0/REST/ with the sandbox's account.

The gateway password lives only in ``SMSREST["PASSWORD"]``: Django's error pages hide
settings whose name contains PASS (recursively, in dicts), and django-smsrest never
writes it to the database, a log line or a page.
"""

from pathlib import Path

import django
import environ

BASE_DIR = Path(__file__).resolve().parent

env = environ.Env()
# Optional; variables already in the environment are not overridden.
environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("DJANGO_SECRET_KEY", default="example-project-insecure-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_smsrest",
    "example_project.sms_demo",
    "example_project.appointments",
]
if django.VERSION < (6, 0):
    # django.tasks is built into Django 6; on 5.2 the backport provides it.
    INSTALLED_APPS.append("django_tasks")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The runserver and the task worker write concurrently: take the write lock up front
    # and wait for it rather than failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("it", "Italiano")]
TIME_ZONE = env("DJANGO_TIME_ZONE", default="Europe/Rome")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "sms_demo:send"
LOGOUT_REDIRECT_URL = "login"

SMSREST = {
    "BRAND": env("SMSREST_BRAND", default="smsend"),
    "BASE_URL": env("SMSREST_BASE_URL", default="http://127.0.0.1:8765/API/v1.0/REST/"),
    "USERNAME": env("SMSREST_USERNAME", default="sandbox"),
    "PASSWORD": env("SMSREST_PASSWORD", default="sandbox"),
    "DEFAULT_REGION": env("SMSREST_DEFAULT_REGION", default="IT"),
    "DEFAULT_SENDER": env("SMSREST_DEFAULT_SENDER", default=""),
}
if env("SMSREST_BACKEND", default=""):
    # e.g. django_smsrest.backends.console.ConsoleBackend to print instead of sending
    SMSREST["BACKEND"] = env("SMSREST_BACKEND")

# The ImmediateBackend runs each task in the request that enqueued it, right after the
# transaction commits: no worker to start for the demo. In production use a real queue,
# e.g. django-tasks' DatabaseBackend + `manage.py db_worker`, and run
# `manage.py send_sms --sweep` from cron every minute.
TASKS = {
    "default": {
        "BACKEND": (
            "django.tasks.backends.immediate.ImmediateBackend"
            if django.VERSION >= (6, 0)
            else "django_tasks.backends.immediate.ImmediateBackend"
        )
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_smsrest": {"handlers": ["console"], "level": "INFO"},
        # Never DEBUG: urllib3 logs full URLs, and the gateway's login URL carries the
        # password in its query string.
        "urllib3": {"handlers": ["console"], "level": "WARNING"},
    },
}
