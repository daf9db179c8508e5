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

        # SMSREST["METRICS"]: the collector in prometheus-client's registry (nothing else).
        install_if_enabled()
