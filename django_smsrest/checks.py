"""Django system checks for the ``SMSREST`` settings (ids ``django_smsrest.E00x``/``W00x``).

``manage.py check`` (and so ``runserver`` and ``migrate``) reports *every* wrong value at
once, one message per problem, each naming the exact ``SMSREST`` key:

* ``E001`` a value of the wrong type or out of range, an unknown key, a typo in
  ``GATEWAY_TIMEZONE`` (see :func:`django_smsrest.conf.settings_problems`);
* ``E003`` a ``DEFAULT_SENDER`` the default message type does not allow;
* ``E004`` a ``CACHE`` alias missing from ``CACHES``;
* ``E005`` a ``VERIFY_TLS`` CA bundle path that does not exist;
* ``E006`` a ``BACKEND`` that cannot be imported or is not a backend;
* ``E007`` a ``TASK_BACKEND`` that is not a key of ``TASKS``, ``E008`` a ``TASK_QUEUE``
  that task backend does not accept;
* ``E009`` ``METRICS`` on without prometheus-client installed;
* ``E010`` ``USE_TZ = False``: schedules, leases and backoff are aware datetimes;
* ``W001`` TLS verification turned off.

Missing credentials (``E002``) are reported only by ``check --deploy``: a build step runs
``migrate`` and ``collectstatic`` without secrets, and must not be stopped by their
absence. Whatever would actually log in (the REST backend) raises
:class:`~django_smsrest.exceptions.MissingCredentials` naming the keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from django_smsrest.conf import (
    DEFAULT_BACKEND,
    SETTING_NAME,
    build_settings,
    merged_settings,
    missing_credentials,
    settings_problems,
)

HINT = "See the settings reference in the documentation (docs/configuration.rst)."

#: Every check id this module reports and what it means, in reStructuredText: the
#: documentation's table of check ids is generated from it (tests/test_settings_reference.py
#: fails when an ``id=`` below is missing here).
CHECK_IDS: Mapping[str, str] = {
    "django_smsrest.E001": "A value is wrong (one message per key), or an unknown key.",
    "django_smsrest.E002": (
        "``USERNAME`` / ``PASSWORD`` empty with the REST backend (``check --deploy`` only)."
    ),
    "django_smsrest.E003": "``DEFAULT_SENDER`` set, but the default type allows no sender.",
    "django_smsrest.E004": "``CACHE`` is not an alias of ``CACHES``.",
    "django_smsrest.E005": "``VERIFY_TLS`` names a CA bundle path that does not exist.",
    "django_smsrest.E006": "``BACKEND`` cannot be imported or is not a backend class.",
    "django_smsrest.E007": "``TASK_BACKEND`` is not a key of ``TASKS``.",
    "django_smsrest.E008": (
        "``TASK_QUEUE`` is not in that task backend's ``QUEUES`` (django.tasks accepts only "
        '``"default"`` when none are listed).'
    ),
    "django_smsrest.E009": "``METRICS`` is on but prometheus-client is not installed.",
    "django_smsrest.E010": "``USE_TZ`` is ``False``: the app needs aware datetimes.",
    "django_smsrest.W001": "``VERIFY_TLS`` is ``False``.",
    "django_smsrest.W101": (
        "``OVERRIDE_RECIPIENTS`` is on with ``DEBUG = False`` (``check --deploy``)."
    ),
    "django_smsrest.W102": (
        "``DEFAULT_SENDER`` is not a confirmed sender alias of the account (``check --deploy``)."
    ),
    "django_smsrest.W103": (
        "``DEFAULT_SENDER`` could not be checked against the account's aliases "
        "(``check --deploy``)."
    ),
}


def _raw() -> Any:
    from django.conf import settings

    return getattr(settings, SETTING_NAME, None)


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report every broken ``SMSREST`` value at start-up rather than at the first send."""
    raw = _raw()
    problems = settings_problems(raw)
    messages: list[CheckMessage] = [
        Error(p.text, hint=HINT, id="django_smsrest.E001") for p in problems
    ]
    bad_keys = {p.key for p in problems}
    merged = merged_settings(raw)
    messages += _environment(merged, bad_keys)
    messages += _time_zone_support()
    if problems:
        return messages

    conf = build_settings(raw)
    if conf.verify_tls is False:
        messages.append(
            Warning(
                "SMSREST['VERIFY_TLS'] is False: the gateway's certificate is not checked.",
                hint="Remove VERIFY_TLS, or set it to the path of a CA bundle.",
                id="django_smsrest.W001",
            )
        )
    sender = conf.default_sender
    if sender and not conf.message_type(conf.default_message_type).custom_sender:
        messages.append(
            Error(
                f"SMSREST['DEFAULT_SENDER'] is set but the default message type "
                f"{conf.default_message_type!r} does not allow a custom sender.",
                hint="Clear DEFAULT_SENDER or choose a message type that allows one.",
                id="django_smsrest.E003",
            )
        )
    return messages


def _environment(merged: Mapping[str, Any], bad_keys: set[str]) -> list[CheckMessage]:
    """Checks that look outside the ``SMSREST`` dict (files, imports, other settings), for
    the keys whose value has the right type."""
    from django.conf import settings

    messages: list[CheckMessage] = []
    verify = merged["VERIFY_TLS"]
    if "VERIFY_TLS" not in bad_keys and isinstance(verify, str) and not os.path.exists(verify):
        messages.append(
            Error(
                f"SMSREST['VERIFY_TLS'] is {verify!r}, a CA bundle path that does not exist.",
                hint="Give the path of a PEM file (or directory) of CA certificates, or "
                "remove VERIFY_TLS to use certifi's bundle.",
                id="django_smsrest.E005",
            )
        )

    backend = merged["BACKEND"]
    if "BACKEND" not in bad_keys:
        problem = _backend_problem(backend)
        if problem:
            messages.append(
                Error(
                    f"SMSREST['BACKEND'] is {backend!r}, {problem}.",
                    hint="Use a dotted path such as 'django_smsrest.backends.rest.RestBackend'.",
                    id="django_smsrest.E006",
                )
            )

    messages += _task_messages(merged, bad_keys)

    cache = merged["CACHE"]
    if "CACHE" not in bad_keys and cache not in settings.CACHES:
        from django_smsrest.throttle import cache_error

        messages.append(
            Error(
                cache_error(cache),
                hint="The account-wide pause after a 429 is kept in this cache; with it "
                "missing the pause is off.",
                id="django_smsrest.E004",
            )
        )
    return messages


def _time_zone_support() -> list[CheckMessage]:
    """The outbox compares aware datetimes everywhere (schedules, leases, backoff, the
    gateway's time zone); with ``USE_TZ = False`` ``timezone.now()`` is naive and the first
    scheduled message would fail with a bare ``TypeError``. Say so at start-up instead."""
    from django.conf import settings

    if settings.USE_TZ:
        return []
    return [
        Error(
            "django_smsrest needs USE_TZ = True: scheduled delivery times, leases and "
            "retries are time-zone-aware datetimes, which cannot be compared with the naive "
            "times Django uses when USE_TZ is False.",
            hint="Set USE_TZ = True in your settings (the default since Django 5.0).",
            id="django_smsrest.E010",
        )
    ]


def _backend_problem(path: str) -> str | None:
    from django_smsrest.backends.base import BaseBackend

    try:
        backend_class = import_string(path)
    except Exception as exc:  # ImportError, or whatever the module raises when imported
        return f"which cannot be imported ({type(exc).__name__}: {exc})"
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseBackend)):
        return "which is not a subclass of django_smsrest.backends.base.BaseBackend"
    return None


def _task_messages(merged: Mapping[str, Any], bad_keys: set[str]) -> list[CheckMessage]:
    """``TASK_BACKEND`` must be a key of ``TASKS`` (what :func:`django_smsrest.tasks.
    enqueue` passes to ``Task.using(backend=...)``) and ``TASK_QUEUE`` one of that
    backend's ``QUEUES`` (django.tasks accepts only ``"default"`` when none are listed)."""
    from django.conf import settings

    if "TASK_BACKEND" in bad_keys:
        return []
    tasks = getattr(settings, "TASKS", None)
    if tasks is None:  # the framework's default
        tasks = {"default": {}}
    alias = merged["TASK_BACKEND"]
    if alias not in tasks:
        return [
            Error(
                f"SMSREST['TASK_BACKEND'] is {alias!r}, which is not a key of TASKS "
                f"(defined: {', '.join(map(repr, tasks)) or 'none'}).",
                hint="Name one of the task backends configured in the TASKS setting.",
                id="django_smsrest.E007",
            )
        ]
    queue = merged["TASK_QUEUE"]
    options = tasks[alias] if isinstance(tasks[alias], Mapping) else {}
    queues = options.get("QUEUES", ["default"])
    if "TASK_QUEUE" not in bad_keys and queues and queue not in queues:
        return [
            Error(
                f"SMSREST['TASK_QUEUE'] is {queue!r}, which the task backend {alias!r} does "
                f"not accept (its QUEUES: {', '.join(map(repr, queues))}).",
                hint=f"Add {queue!r} to TASKS[{alias!r}]['QUEUES'] or use one of its queues.",
                id="django_smsrest.E008",
            )
        ]
    return []


@register(deploy=True)
def check_credentials(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy``: the REST backend needs ``USERNAME`` and ``PASSWORD``."""
    raw = _raw()
    if settings_problems(raw):
        return []  # already reported by check_settings
    conf = build_settings(raw)
    if conf.backend != DEFAULT_BACKEND and not _is_rest_backend(conf.backend):
        return []
    missing = missing_credentials(conf.username, conf.password)
    if not missing:
        return []
    return [
        Error(
            f"{' and '.join(f'SMSREST[{key!r}]' for key in missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set; the REST backend cannot log in.",
            hint="Read them from the environment, e.g. SMSREST = {'USERNAME': "
            "env('SMSREST_USERNAME'), 'PASSWORD': env('SMSREST_PASSWORD'), ...}",
            id="django_smsrest.E002",
        )
    ]


def _is_rest_backend(path: str) -> bool:
    from django_smsrest.backends.rest import RestBackend

    try:
        backend_class = import_string(path)
    except ImportError:
        return False
    return isinstance(backend_class, type) and issubclass(backend_class, RestBackend)


@register()
def check_metrics(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``E009``: ``SMSREST["METRICS"]`` is on but prometheus-client is not installed."""
    from django_smsrest.metrics import MISSING, metrics_enabled, prometheus_missing

    if metrics_enabled() and prometheus_missing():
        return [
            Error(
                MISSING,
                hint="Install the extra, or remove METRICS.",
                id="django_smsrest.E009",
            )
        ]
    return []


# --- consent (issue 23) -------------------------------------------------------------------


@register(deploy=True)
def check_override_recipients(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy``: ``OVERRIDE_RECIPIENTS`` is a staging tool; on a server with
    ``DEBUG = False`` it silently sends every customer's SMS to a handful of numbers."""
    from django.conf import settings

    raw = _raw()
    if settings_problems(raw) or settings.DEBUG:
        return []
    numbers = build_settings(raw).override_recipients
    if not numbers:
        return []
    return [
        Warning(
            f"SMSREST['OVERRIDE_RECIPIENTS'] is on with DEBUG = False: every SMS goes only "
            f"to {', '.join(numbers)}, never to its real recipients.",
            hint="Remove OVERRIDE_RECIPIENTS in production (keep it for staging copies).",
            id="django_smsrest.W101",
        )
    ]


@register(deploy=True)
def check_default_sender_alias(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy``: a ``DEFAULT_SENDER`` alias that is not confirmed at the gateway
    goes out as a numeric sender (AGCOM rules). Asks the gateway (``GET alias``) only
    when a backend with ``supports_aliases`` and credentials are configured."""
    from django_smsrest.backends import get_backend
    from django_smsrest.exceptions import SmsRestError

    raw = _raw()
    if settings_problems(raw):
        return []
    conf = build_settings(raw)
    sender = conf.default_sender
    if not sender or sender.lstrip("+").isdigit():
        return []  # no alias: the account's default, or a number
    if missing_credentials(conf.username, conf.password):
        return []  # E002 says so
    try:
        backend = get_backend(conf)
        if not backend.supports_aliases:
            return []
        from django_smsrest import services

        aliases = services.list_aliases()
    except (SmsRestError, ImportError) as exc:
        return [
            Warning(
                f"Could not check SMSREST['DEFAULT_SENDER'] {sender!r} against the "
                f"account's aliases: {exc}",
                hint="Run manage.py send_sms --aliases to see them.",
                id="django_smsrest.W103",
            )
        ]
    found = next((a for a in aliases if a.alias == sender), None)
    if found is not None and found.confirmed:
        return []
    state = "not registered" if found is None else found.state_label
    return [
        Warning(
            f"SMSREST['DEFAULT_SENDER'] {sender!r} is not a confirmed alias of the account "
            f"({state}): the gateway sends it as a numeric sender.",
            hint="Register and confirm the alias in the provider's panel, or change "
            "DEFAULT_SENDER (manage.py send_sms --aliases lists them).",
            id="django_smsrest.W102",
        )
    ]
