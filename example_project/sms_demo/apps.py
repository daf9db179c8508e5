from django.apps import AppConfig


class SmsDemoConfig(AppConfig):
    name = "example_project.sms_demo"
    label = "sms_demo"
    verbose_name = "SMS demo pages"
