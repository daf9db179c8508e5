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


@pytest.fixture(autouse=True)
def _no_sending_pause():
    """A 429 pauses the whole account (django_smsrest.throttle) in the cache, which
    outlives a test: no test may leave the next one paused."""
    yield
    from django_smsrest import throttle

    throttle.clear_pause()


@pytest.fixture
def clean_gateway():
    """An empty in-memory gateway and cache before and after the test (credits lines and
    the 429 pause live in the cache)."""
    from django.core.cache import cache

    from django_smsrest.backends import locmem

    locmem.reset()
    cache.clear()
    yield
    locmem.reset()
    cache.clear()
