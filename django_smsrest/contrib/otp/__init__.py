"""django-otp devices that send their tokens by SMS through django-smsrest.

Add ``"django_otp"`` and ``"django_smsrest.contrib.otp"`` to ``INSTALLED_APPS`` (app label
``smsrest_otp``, its own migrations) and run ``migrate``. The devices are
:class:`~django_smsrest.contrib.otp.models.SmsRestDevice` (a token made here, delivered
through the outbox) and :class:`~django_smsrest.contrib.otp.models.GatewayPinDevice` (the
gateway's own PIN service). Importing this package imports no model; import them from
``django_smsrest.contrib.otp.models`` (or ``django_smsrest.contrib.otp.SmsRestDevice``,
looked up on first use).
"""

from __future__ import annotations

from typing import Any

__all__ = ["GatewayPinDevice", "SmsRestDevice"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from django_smsrest.contrib.otp import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
