import pytest
from django.conf import settings
from django.utils import translation

# The app's own pytest plugin, exactly as a project that uses django-smsrest registers it.
pytest_plugins = ["django_smsrest.testing"]


@pytest.fixture(autouse=True)
def _default_language():
    """LocaleMiddleware leaves the last request's language active in the thread; a test
    that asked for Italian must not turn the next test's assertions Italian."""
    yield
    translation.activate(settings.LANGUAGE_CODE)
