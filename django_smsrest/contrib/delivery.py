"""What the plug-ins share: render a code's text from a translatable template and send it
through :func:`django_smsrest.services.send_code`, raising :class:`CodeNotSent` when it
did not go out, so that the library's view tells the person."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from django_smsrest.exceptions import SmsRestError
from django_smsrest.models import SmsMessage, Status

__all__ = ["CodeNotSent", "deliver_code", "render_text"]

#: The message went out (or may have: an UNKNOWN outcome is being checked).
_OUT = frozenset({Status.SENT, Status.SCHEDULED, Status.DELIVERED, Status.UNKNOWN})


class CodeNotSent(SmsRestError):
    """The login code could not be sent now; ``str()`` is a sentence for the person
    logging in, ``message`` the outbox row (its ``last_error`` says why, for the staff)."""

    def __init__(self, message: SmsMessage) -> None:
        if message.status == Status.QUEUED:
            text = _(
                "The code could not be sent by SMS right now; it will be retried for a few "
                "minutes. If it does not arrive, ask for a new one."
            )
        else:
            text = _("The code could not be sent by SMS. Please try again later.")
        super().__init__(str(text))
        self.message = message


def render_text(template_name: str, code: str, **context: Any) -> str:
    """The text of the code message, from ``template_name`` in the active language."""
    return render_to_string(template_name, {"token": code, "code": code, **context}).strip()


def deliver_code(
    text: str,
    number: str | phonenumbers.PhoneNumber,
    code: str,
    *,
    valid_seconds: float | None = None,
) -> SmsMessage:
    """Send the code now (:func:`~django_smsrest.services.send_code`); raise
    :class:`CodeNotSent` unless the gateway accepted it. Bad input and
    :class:`~django_smsrest.services.CodeRateLimited` (both ``ValidationError``) pass
    through with their own message."""
    from django_smsrest import services

    message = services.send_code(text, number, code=code, valid_seconds=valid_seconds)
    if message.status not in _OUT:
        raise CodeNotSent(message)
    return message
