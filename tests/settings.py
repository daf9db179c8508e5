"""Settings for the test suite.

``SMSREST_TEST_DB=postgres`` runs the suite on PostgreSQL (``SMSREST_TEST_PG_*`` pick the
server; the defaults match a local server that trusts local connections), anything else
on SQLite.
"""

import os

import django

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Europe/Rome"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
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
# The login-code plug-ins, tested against the real libraries (issue 22). Not in the worker
# processes of the multi-process tests (tests/worker_settings.py): they add most of a
# second to each start, and those tests time leases of two seconds.
PLUGIN_APPS = [
    "phonenumber_field",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "two_factor",
    "two_factor.plugins.phonenumber",
    "django_smsrest.contrib.otp",
]
INSTALLED_APPS += PLUGIN_APPS
# django-two-factor-auth patches AdminSite.login to redirect to its own login page unless
# told not to; the admin tests log in through the admin's own form.
TWO_FACTOR_PATCH_ADMIN = False
if django.VERSION < (6, 0):
    INSTALLED_APPS.append("django_tasks")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
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

if os.environ.get("SMSREST_TEST_DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("SMSREST_TEST_PG_NAME", "smsrest"),
            "USER": os.environ.get("SMSREST_TEST_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("SMSREST_TEST_PG_PASSWORD", ""),
            "HOST": os.environ.get("SMSREST_TEST_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("SMSREST_TEST_PG_PORT", "5432"),
        }
    }
    # A second database for tests/test_db_router.py: a router puts the app's tables there.
    DATABASES["second"] = {
        **DATABASES["default"],
        "NAME": DATABASES["default"]["NAME"] + "_second",
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SMSREST_TEST_SQLITE", ":memory:"),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            # A file as the test database too (Django's SQLite test database is otherwise
            # in memory, shared between threads only with table locks that never wait).
            "TEST": {"NAME": os.environ.get("SMSREST_TEST_SQLITE") or None},
        }
    }

SMSREST = {
    "USERNAME": "test-user",
    "PASSWORD": "test-password-s3cret",
    "BASE_URL": "https://gateway.test/API/v1.0/REST/",
    "BACKEND": "django_smsrest.backends.locmem.LocmemBackend",
    "DEFAULT_REGION": "IT",
}

_TASKS_MODULE = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
TASKS = {"default": {"BACKEND": f"{_TASKS_MODULE}.backends.immediate.ImmediateBackend"}}

LANGUAGE_CODE = "en"
