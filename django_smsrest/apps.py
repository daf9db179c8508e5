from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmsRestConfig(AppConfig):
    name = "django_smsrest"
    verbose_name = _("SMS (REST gateway)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks; importing checks has no other side effect.
        from django_smsrest import checks  # noqa: F401
        from django_smsrest.metrics import install_if_enabled
        from django_smsrest.services.codes import forget_clear_text
        from django_smsrest.services.consent import on_sms_received
        from django_smsrest.signals import post_send, sms_received

        # SMSREST["METRICS"]: the collector in prometheus-client's registry (nothing else).
        install_if_enabled()
        # A login code's clear text leaves the cache as soon as the code reached an ending.
        post_send.connect(forget_clear_text, dispatch_uid="django_smsrest.forget_clear_text")
        # A received STOP reply opts its sender out: a receiver of the app's own signal,
        # so receiving SMS knows nothing about consent.
        sms_received.connect(on_sms_received, dispatch_uid="django_smsrest.stop_replies")
