"""Who sent which SMS from the demo page, so that users see only their own messages.

django-smsrest's ``SmsMessage`` knows nothing about users (a reusable app should not
impose that); a project links messages to whatever it needs with a small table like this.
"""

from django.conf import settings
from django.db import models

from django_smsrest.models import SmsMessage


class SentMessage(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    message = models.OneToOneField(SmsMessage, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} -> SMS #{self.message_id}"
