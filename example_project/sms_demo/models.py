"""Who sent which SMS from the demo page, so that users see only their own messages.

django-smsrest's ``SmsMessage`` knows nothing about users (a reusable app should not
impose that); a project links messages to whatever it needs with a small table like this.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from django_smsrest.models import SmsMessage


class SentMessage(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE
    )
    message = models.OneToOneField(
        SmsMessage, verbose_name=_("message"), on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("sent message")
        verbose_name_plural = _("sent messages")

    def __str__(self) -> str:
        return _("%(user)s -> SMS #%(pk)s") % {"user": self.user, "pk": self.message_id}
