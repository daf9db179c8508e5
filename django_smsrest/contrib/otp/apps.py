from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmsRestOtpConfig(AppConfig):
    name = "django_smsrest.contrib.otp"
    label = "smsrest_otp"
    verbose_name = _("SMS one-time passwords")
    default_auto_field = "django.db.models.BigAutoField"
