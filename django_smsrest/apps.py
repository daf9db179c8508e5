from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmsRestConfig(AppConfig):
    name = "django_smsrest"
    verbose_name = _("SMS (REST gateway)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks; importing checks has no other side effect.
        from django_smsrest import checks  # noqa: F401
        from django_smsrest.services.consent import on_sms_received
        from django_smsrest.signals import sms_received

        # A received STOP reply opts its sender out (issue 23): a receiver of the app's own
        # signal, so receiving SMS knows nothing about consent.
        sms_received.connect(on_sms_received, dispatch_uid="django_smsrest.stop_replies")
