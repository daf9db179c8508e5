"""A small model whose creation queues an SMS: the "signal receiver" example."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from django_smsrest.conf import get_settings
from django_smsrest.models import SmsMessage
from django_smsrest.phone import InvalidPhoneNumber, normalize


def validate_phone(value: str) -> None:
    """Refuse a number the SMS could not be sent to, with the library's own message."""
    try:
        normalize(value, get_settings().default_region)
    except InvalidPhoneNumber as exc:
        raise ValidationError(str(exc), code=exc.code) from None


class Appointment(models.Model):
    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(
        _("phone"),
        max_length=32,
        validators=[validate_phone],
        help_text=_("e.g. +39 347 123 4567"),
    )
    starts_at = models.DateTimeField(_("starts at"))
    # Set by the receiver: the reminder queued for this appointment.
    reminder = models.ForeignKey(
        SmsMessage,
        verbose_name=_("reminder"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")

    def __str__(self) -> str:
        return _("%(name)s at %(when)s") % {
            "name": self.name,
            "when": f"{self.starts_at:%Y-%m-%d %H:%M}",
        }
