"""The example project's pages speak Italian when the browser asks for it (issue 24 item
1): its own strings from ``example_project/locale``, django-smsrest's from the app's.
Checked with the same nets as the app's admin (``tests/test_italian_everywhere.py``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone, translation

from django_smsrest import services
from django_smsrest.backends import locmem
from example_project.sms_demo.models import SentMessage
from tests.test_italian_everywhere import CATALOG, english_in, english_sources, visible_text

pytestmark = pytest.mark.django_db

EXAMPLE_CATALOG = Path(settings.BASE_DIR) / "locale" / "it" / "LC_MESSAGES" / "django.mo"
ITALIAN = {"HTTP_ACCEPT_LANGUAGE": "it"}
NUMBER = "+393471234567"


@pytest.fixture(autouse=True)
def _locmem_gateway():
    conf = {**settings.SMSREST, "BACKEND": "django_smsrest.backends.locmem.LocmemBackend"}
    locmem.reset()
    cache.clear()
    with override_settings(SMSREST=conf):
        yield
    locmem.reset()
    translation.deactivate()


def test_the_example_pages_are_italian() -> None:
    sources = english_sources(CATALOG, EXAMPLE_CATALOG)
    user = User.objects.create_superuser("alice", "alice@example.com", "pw")
    pages = [Client().get(reverse("login"), **ITALIAN)]
    client = Client()
    client.force_login(user)
    sent = services.send_sms("Ciao", [NUMBER])
    later = services.send_sms(
        "Domani", [NUMBER], scheduled_delivery_time=timezone.now() + timedelta(days=1)
    )
    for message in (sent, later):
        SentMessage.objects.create(user=user, message=message)
    pages += [
        client.get(reverse("sms_demo:send"), **ITALIAN),
        client.get(reverse("sms_demo:detail", args=[sent.pk]), **ITALIAN),
        client.get(reverse("sms_demo:detail", args=[later.pk]), **ITALIAN),
        client.post(reverse("sms_demo:send"), {"message": ""}, **ITALIAN),  # errors
        client.get(reverse("admin:app_list", args=["appointments"]), **ITALIAN),
        client.get(reverse("admin:appointments_appointment_add"), **ITALIAN),
        client.get(reverse("admin:sms_demo_sentmessage_changelist"), **ITALIAN),
    ]
    for response in pages:
        assert response.status_code == 200, response
        html = response.content.decode()
        assert '<html lang="it"' in html
        found = english_in(visible_text(html), sources, ignore=("Ciao", "Domani", "alice"))
        assert found == [], (response.request["PATH_INFO"], found)
