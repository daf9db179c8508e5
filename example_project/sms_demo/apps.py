from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmsDemoConfig(AppConfig):
    name = "example_project.sms_demo"
    label = "sms_demo"
    verbose_name = _("SMS demo pages")
