# The app's own pytest plugin, exactly as a project that uses django-smsrest registers it.
pytest_plugins = ["django_smsrest.testing"]
