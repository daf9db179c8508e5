"""django-two-factor-auth gateway: ``TWO_FACTOR_SMS_GATEWAY =
"django_smsrest.contrib.two_factor.Gateway"`` (the library's ``two_factor.plugins.phonenumber``
app installed; leave ``TWO_FACTOR_CALL_GATEWAY`` unset: this gateway has no voice calls)."""

from __future__ import annotations

from typing import Any

from django_smsrest.contrib.delivery import deliver_code, render_text

__all__ = ["Gateway"]


class Gateway:
    """Sends django-two-factor-auth's tokens through the outbox as login codes.

    The library builds a new instance per token (no arguments) and calls
    ``send_sms(device=..., token=...)``; ``device.number`` is a ``PhoneNumber``. The text
    is ``template_name`` rendered in the active language with ``token``; the code is
    valid for ``SMSREST["CODE_VALID_SECONDS"]`` (the library accepts a TOTP token for about
    three minutes). Raises :class:`~django_smsrest.contrib.delivery.CodeNotSent` (or
    ``CodeRateLimited``) when the code did not go out, so the login view shows an error.
    """

    template_name = "django_smsrest/codes/login_code.txt"

    def send_sms(self, device: Any, token: str) -> None:
        deliver_code(render_text(self.template_name, token, device=device), device.number, token)
