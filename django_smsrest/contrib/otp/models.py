"""The django-otp devices (see the package docstring)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.models import (
    CooldownMixin,
    Device,
    GenerateNotAllowed,
    SideChannelDevice,
    ThrottlingMixin,
    TimestampMixin,
)

from django_smsrest.contrib.delivery import deliver_code, render_text

__all__ = ["GatewayPinDevice", "SmsRestDevice"]


def _normalized(number: str) -> str:
    from django_smsrest.conf import get_settings
    from django_smsrest.phone import InvalidPhoneNumber, normalize

    try:
        return normalize(number, get_settings().default_region)
    except InvalidPhoneNumber as exc:
        raise ValidationError({"number": exc.message}) from None


class SmsRestDevice(TimestampMixin, CooldownMixin, ThrottlingMixin, SideChannelDevice):
    """A django-otp device that sends a token by SMS through the outbox (the shape of
    django-otp's ``EmailDevice`` and ``otp_twilio``'s ``TwilioSMSDevice``).

    :meth:`generate_challenge` makes a token valid for ``SMSREST["CODE_VALID_SECONDS"]``
    and sends it now as a login code (masked in the outbox, never sent after it expired,
    within ``RATE_LIMITS``); it raises
    :class:`~django_smsrest.contrib.delivery.CodeNotSent` when the SMS did not go out
    (django-otp: "callers should trap Exception and report it to the user").
    :meth:`verify_token` is the base class's, throttled.

    Settings, django-otp style: ``OTP_SMSREST_COOLDOWN_DURATION`` (seconds between two
    codes, default 60) and ``OTP_SMSREST_THROTTLE_FACTOR`` (default 1). As for every
    ``SideChannelDevice``, the pending token is in the device row until it is used or
    expires (django-otp compares it there).
    """

    number = models.CharField(
        _("number"), max_length=16, help_text=_("The phone number, in international format.")
    )
    template_name = "django_smsrest/codes/login_code.txt"

    class Meta:
        verbose_name = _("SMS device")
        verbose_name_plural = _("SMS devices")

    def clean(self) -> None:
        super().clean()
        self.number = _normalized(self.number)

    def generate_challenge(self) -> str:
        allowed, data = self.generate_is_allowed()
        if not allowed:
            if data and data.get("reason") == GenerateNotAllowed.COOLDOWN_DURATION_PENDING:
                return gettext("A code was just sent; wait a moment before asking again.")
            return gettext("A code cannot be sent right now.")
        from django_smsrest.conf import get_settings

        valid = get_settings().code_valid_seconds
        self.cooldown_set(commit=False)
        self.generate_token(valid_secs=int(valid), commit=True)
        text = render_text(self.template_name, self.token)
        deliver_code(text, self.number, self.token, valid_seconds=valid)
        return gettext("sent by SMS")

    def verify_token(self, token: Any) -> bool:
        allowed, _data = self.verify_is_allowed()
        if not allowed:
            return False
        verified = bool(super().verify_token(token))
        if verified:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
        else:
            self.throttle_increment()
        return verified

    def get_cooldown_duration(self) -> int:
        return int(getattr(settings, "OTP_SMSREST_COOLDOWN_DURATION", 60))

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_SMSREST_THROTTLE_FACTOR", 1))


class GatewayPinDevice(ThrottlingMixin, Device):
    """A django-otp device whose PIN the gateway makes, sends, keeps and checks
    (``POST 2fa/request`` / ``2fa/verify``): nothing secret is stored here. Needs a backend
    with ``supports_pin`` (the REST backend; the locmem backend fakes it).

    :meth:`generate_challenge` asks for a PIN valid ``SMSREST["CODE_VALID_SECONDS"]``
    (in whole minutes, the gateway's unit), counted against ``RATE_LIMITS``;
    :meth:`verify_token` asks the gateway, throttled (``OTP_SMSREST_THROTTLE_FACTOR``). It
    works with plain django-otp; django-two-factor-auth makes its own tokens, use
    :class:`SmsRestDevice`'s gateway there. The gateway's answer to the check has no
    documented field names: it is read leniently (``client/pins.py``).
    """

    number = models.CharField(
        _("number"), max_length=16, help_text=_("The phone number, in international format.")
    )
    template_name = "django_smsrest/codes/login_code.txt"

    class Meta:
        verbose_name = _("gateway PIN device")
        verbose_name_plural = _("gateway PIN devices")

    def clean(self) -> None:
        super().clean()
        self.number = _normalized(self.number)

    def generate_challenge(self) -> str:
        from django_smsrest import services
        from django_smsrest.client.pins import PIN_PLACEHOLDER

        services.request_pin(
            self.number, message_body=render_text(self.template_name, PIN_PLACEHOLDER)
        )
        return gettext("sent by SMS")

    def verify_token(self, token: Any) -> bool:
        from django_smsrest import services

        allowed, _data = self.verify_is_allowed()
        if not allowed:
            return False
        verified = services.verify_pin(self.number, str(token))
        if verified:
            self.throttle_reset()
        else:
            self.throttle_increment()
        return verified

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_SMSREST_THROTTLE_FACTOR", 1))
