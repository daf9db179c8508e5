"""django-smsrest: send SMS through the smSend / Skebby / Mobyt REST API from Django.

The public entry points are :func:`send_sms` and :func:`queue_sms`. They are thin wrappers
that import :mod:`django_smsrest.services` on first call, so importing this package touches
neither settings nor models (it is safe in ``settings.py`` and before ``django.setup()``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_smsrest.models import SmsMessage

__version__ = "0.1.0"
__all__ = ["__version__", "queue_sms", "send_sms"]


def send_sms(
    message: str,
    recipients: str | Iterable[str],
    *,
    sender: str | None = None,
    message_type: str | None = None,
    scheduled_delivery_time: datetime | None = None,
    defer: bool = False,
    **options: Any,
) -> SmsMessage:
    """Validate, store and send an SMS; see :func:`django_smsrest.services.send_sms`."""
    from django_smsrest import services

    return services.send_sms(
        message,
        recipients,
        sender=sender,
        message_type=message_type,
        scheduled_delivery_time=scheduled_delivery_time,
        defer=defer,
        **options,
    )


def queue_sms(
    message: str,
    recipients: str | Iterable[str],
    *,
    sender: str | None = None,
    message_type: str | None = None,
    scheduled_delivery_time: datetime | None = None,
    **options: Any,
) -> SmsMessage:
    """Validate and store an SMS for a worker to send: ``send_sms(..., defer=True)``."""
    return send_sms(
        message,
        recipients,
        sender=sender,
        message_type=message_type,
        scheduled_delivery_time=scheduled_delivery_time,
        defer=True,
        **options,
    )
