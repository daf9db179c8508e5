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
    # Two-factor login with codes sent through django-smsrest (the "/account/login/" page;
    # TWO_FACTOR_SMS_GATEWAY below).
    "django_otp",
    "django_otp.plugins.otp_static",
    "django_otp.plugins.otp_totp",
    "two_factor",
    "two_factor.plugins.phonenumber",
    "phonenumber_field",
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
    "django_otp.middleware.OTPMiddleware",
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
    # A busy outbox writes from several processes at once: the web process (the send page,
    # the admin), the worker (`send_sms --loop`: sends, reconciles, delivery states) and
    # any `manage.py send_sms`. SQLite's default rollback journal locks the whole file for
    # readers while one process writes, and a read transaction that later wants to write
    # fails at once with "database is locked". So:
    # * WAL: readers never block the writer and the writer never blocks readers, so pages
    #   stay fast while the worker writes; synchronous=NORMAL is safe with WAL (a power cut
    #   may lose the last commits, never corrupt) and saves an fsync per commit;
    # * IMMEDIATE transactions take the write lock when they begin, so a second writer
    #   waits for it (up to `timeout` seconds) instead of failing halfway;
    # (`init_command` needs Django >= 5.1; the project requires 5.2.)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("it", "Italiano")]
# The example's own strings (its pages and apps); django-smsrest ships its catalog.
LOCALE_PATHS = [BASE_DIR / "locale"]
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
    # When the worker first asks for a message's delivery state, then doubling. `make demo`
    # sets 2 (the sandbox delivers in about 3 s); against a real gateway keep the default.
    "STATUS_POLL_BASE_SECONDS": env.float("SMSREST_STATUS_POLL_BASE_SECONDS", default=60.0),
    # How long a login code may still be sent (the browser test shortens it).
    "CODE_VALID_SECONDS": env.float("SMSREST_CODE_VALID_SECONDS", default=180.0),
}
# django-two-factor-auth sends its tokens through the outbox as login codes: at once, never
# after they expired, masked in the admin. No voice calls: TWO_FACTOR_CALL_GATEWAY unset.
TWO_FACTOR_SMS_GATEWAY = "django_smsrest.contrib.two_factor.Gateway"
PHONENUMBER_DEFAULT_REGION = "IT"
if env("SMSREST_BACKEND", default=""):
    # e.g. django_smsrest.backends.console.ConsoleBackend to print instead of sending
    SMSREST["BACKEND"] = env("SMSREST_BACKEND")

# The ImmediateBackend runs each task in the process that enqueued it, right after the
# transaction commits: the send page sends in its request. The background worker
# (`manage.py send_sms --loop`, which `make demo` starts) sends what is queued or due for
# a retry, settles unknown outcomes and moves delivery states forward. In production use a
# real queue too, e.g. django-tasks-db + `manage.py db_worker` (see docs/background.rst).
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
