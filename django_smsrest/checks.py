"""Django system checks for the ``SMSREST`` settings (ids ``django_smsrest.E00x``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from django_smsrest.conf import DEFAULT_BACKEND, get_settings, missing_credentials
from django_smsrest.exceptions import SmsRestConfigurationError


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report a broken configuration at start-up rather than at the first send."""
    try:
        conf = get_settings()
    except SmsRestConfigurationError as exc:
        return [
            Error(
                str(exc),
                hint="See the settings reference in README.rst.",
                id="django_smsrest.E001",
            )
        ]
    messages: list[CheckMessage] = []
    if conf.backend == DEFAULT_BACKEND:
        missing = missing_credentials(conf.username, conf.password)
        if missing:
            messages.append(
                Error(
                    f"SMSREST is missing {' and '.join(missing)}; the REST backend cannot log in.",
                    hint="Read them from the environment, e.g. SMSREST = {'USERNAME': "
                    "env('SMSREST_USERNAME'), 'PASSWORD': env('SMSREST_PASSWORD'), ...}",
                    id="django_smsrest.E002",
                )
            )
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
    from django.conf import settings

    if conf.cache not in settings.CACHES:
        from django_smsrest.throttle import cache_error

        messages.append(
            Error(
                cache_error(conf.cache),
                hint="The account-wide pause after a 429 is kept in this cache; with it "
                "missing the pause is off.",
                id="django_smsrest.E004",
            )
        )
    return messages
