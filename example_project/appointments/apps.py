from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppointmentsConfig(AppConfig):
    name = "example_project.appointments"
    label = "appointments"
    verbose_name = _("Appointments (signal receiver example)")

    def ready(self) -> None:
        # Connects the post_save receiver that queues the reminder SMS.
        from . import receivers  # noqa: F401
