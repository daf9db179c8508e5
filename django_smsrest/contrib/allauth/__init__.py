"""django-allauth phone verification: mix :class:`SmsRestPhoneAdapterMixin` into the
project's account adapter::

    from allauth.account.adapter import DefaultAccountAdapter
    from django_smsrest.contrib.allauth import SmsRestPhoneAdapterMixin

    class AccountAdapter(SmsRestPhoneAdapterMixin, DefaultAccountAdapter):
        ...  # set_phone, get_phone, set_phone_verified, get_user_by_phone

(``ACCOUNT_ADAPTER = "myproject.adapters.AccountAdapter"``)."""

from __future__ import annotations

import contextlib
from typing import Any

from django_smsrest.contrib.delivery import deliver_code, render_text

__all__ = ["SmsRestPhoneAdapterMixin"]


class SmsRestPhoneAdapterMixin:
    """The three ``send_*_sms`` methods of allauth's ``DefaultAccountAdapter``, through the
    outbox. The verification code is a login code (masked when stored, never sent after
    ``code_valid_seconds``, rate limited); the two notices are ordinary messages."""

    #: allauth keeps a code usable for ACCOUNT_PHONE_VERIFICATION_TIMEOUT (900 s by
    #: default); ``None`` uses SMSREST["CODE_VALID_SECONDS"].
    code_valid_seconds: float | None = None
    verification_template_name = "django_smsrest/codes/verification_code.txt"
    unknown_account_template_name = "django_smsrest/codes/unknown_account.txt"
    account_exists_template_name = "django_smsrest/codes/account_already_exists.txt"

    def send_verification_code_sms(self, user: Any, phone: str, code: str, **kwargs: Any) -> None:
        text = render_text(self.verification_template_name, code, user=user)
        deliver_code(text, phone, code, valid_seconds=self.code_valid_seconds)

    def send_unknown_account_sms(self, phone: str, **kwargs: Any) -> None:
        self._notice(self.unknown_account_template_name, phone)

    def send_account_already_exists_sms(self, phone: str) -> None:
        self._notice(self.account_exists_template_name, phone)

    def _notice(self, template_name: str, phone: str) -> None:
        """A notice holds no secret, but whoever typed the number chose where it goes:
        it counts against ``RATE_LIMITS`` (:func:`~django_smsrest.services.send_notice`).
        A refusal is logged, not raised: the page must look the same whether or not an
        account uses the number (allauth's enumeration prevention)."""
        from django.template.loader import render_to_string

        from django_smsrest import services

        with contextlib.suppress(services.CodeRateLimited):  # logged and signalled
            services.send_notice(render_to_string(template_name).strip(), phone)
