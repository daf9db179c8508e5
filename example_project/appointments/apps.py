from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    name = "example_project.appointments"
    label = "appointments"
    verbose_name = "Appointments (signal receiver example)"

    def ready(self) -> None:
        # Connects the post_save receiver that queues the reminder SMS.
        from . import receivers  # noqa: F401
