"""The gateway's own PIN service (``POST 2fa/request`` / ``2fa/verify``): the platform
makes, sends, keeps and expires the PIN; nothing about it is stored here. For a code this
app makes and sends through the outbox, see :mod:`.codes`."""

from __future__ import annotations

import math

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_smsrest import ratelimit
from django_smsrest.backends import get_backend
from django_smsrest.client.pins import PIN_PLACEHOLDER
from django_smsrest.conf import get_settings
from django_smsrest.outbox import outbox_db
from django_smsrest.phone import InvalidPhoneNumber, normalize
from django_smsrest.services.base import logger
from django_smsrest.services.codes import _refused

__all__ = ["request_pin", "verify_pin"]


def _number(recipient: str | phonenumbers.PhoneNumber) -> str:
    try:
        return normalize(recipient, get_settings().default_region)
    except InvalidPhoneNumber as exc:
        raise ValidationError({"recipients": [exc.message]}) from None


def request_pin(
    recipient: str | phonenumbers.PhoneNumber,
    *,
    message_body: str | None = None,
    valid_seconds: float | None = None,
    sender: str | None = None,
) -> None:
    """Have the gateway send a PIN to ``recipient``. ``message_body`` contains ``%PIN%``
    (where the gateway puts it); the PIN is valid ``valid_seconds`` (default
    ``SMSREST["CODE_VALID_SECONDS"]``, rounded up to the gateway's whole minutes).

    Counted against ``SMSREST["RATE_LIMITS"]`` like a login code
    (:class:`~django_smsrest.services.CodeRateLimited` before anything is asked). The
    backend must have ``supports_pin``. Gateway errors propagate (``GatewayRejected``
    for a bad number, sender or expiry, or not enough credit)."""
    conf = get_settings()
    number = _number(recipient)
    if message_body is not None and PIN_PLACEHOLDER not in message_body:
        error = ValidationError(
            _("The text must contain %(placeholder)s, where the gateway puts the PIN."),
            code="no_placeholder",
            params={"placeholder": PIN_PLACEHOLDER},
        )
        raise ValidationError({"message": [error]})
    backend = get_backend(conf)
    if not backend.supports_pin:
        raise ValidationError(_("The configured backend has no PIN service."), code="no_pin")
    try:
        with transaction.atomic(using=outbox_db()):
            ratelimit.consume([number], conf.rate_limits, timezone.now())
    except ratelimit.Exceeded as exceeded:
        raise _refused(exceeded, number) from None
    minutes = max(1, math.ceil((valid_seconds or conf.code_valid_seconds) / 60))
    backend.request_pin(
        number, message_body=message_body, expiry_minutes=minutes, sender_name=sender or None
    )
    logger.info("Gateway PIN requested for a number (valid %d min)", minutes)


def verify_pin(recipient: str | phonenumbers.PhoneNumber, pin: str) -> bool:
    """Whether ``pin`` is ``recipient``'s live gateway PIN (used up when it is)."""
    backend = get_backend(get_settings())
    return bool(backend.verify_pin(_number(recipient), str(pin).strip()).valid)
