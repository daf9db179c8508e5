"""Issue 23 item 6: ``SMSREST["OVERRIDE_RECIPIENTS"]``: every message goes to those
numbers only, decided at send time; the row keeps its real recipients and records the
override; the admin shows a banner; ``check --deploy`` warns with DEBUG = False."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from django.urls import reverse

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.conf import get_settings
from django_smsrest.testing.tasks import no_task_worker
from tests.settings import SMSREST

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_gateway")]

A, B = "+393471234567", "+393471234568"
TESTER = "+393339998877"
OVERRIDE = {**SMSREST, "OVERRIDE_RECIPIENTS": ["333 999 8877"]}


@override_settings(SMSREST=OVERRIDE)
def test_every_message_goes_to_the_override_numbers_only() -> None:
    msg = services.send_sms("Hello", [A, B])
    [order] = locmem.outbox
    assert order.recipients == (TESTER,)
    assert sorted(msg.recipients.values_list("phone_number", flat=True)) == [A, B]
    msg.refresh_from_db()
    assert msg.overridden_to == [TESTER]


def test_decided_at_send_time_not_at_queue_time() -> None:
    with no_task_worker:
        queued = services.queue_sms("Hello", [A])
    with override_settings(SMSREST=OVERRIDE):
        services.send_message(queued.pk)
    [order] = locmem.outbox
    assert order.recipients == (TESTER,)
    queued.refresh_from_db()
    assert queued.overridden_to == [TESTER]


def test_without_override_nothing_is_recorded() -> None:
    msg = services.send_sms("Hello", [A])
    assert locmem.outbox[0].recipients == (A,) and msg.overridden_to == []


@override_settings(SMSREST={**OVERRIDE, "CONCURRENCY": 4})
def test_the_batched_flush_and_personalised_and_group_messages_are_overridden() -> None:
    with no_task_worker:
        services.queue_sms("Ciao ${name}", [{"recipient": A, "name": "Ada"}])
        services.queue_sms("Hi all", groups=["clienti"])
        services.queue_sms("Plain", [A, B])
    services.flush_queue()
    by_text = {o.message: o for o in locmem.outbox}
    assert {o.recipients for o in locmem.outbox} == {(TESTER,)}
    assert [dict(p) for p in by_text["Ciao ${name}"].params] == [{"name": "Ada"}]
    assert by_text["Hi all"].groups == ()  # to the tester, not to the whole group


def test_a_bad_override_number_is_a_configuration_error_naming_the_key() -> None:
    with (
        override_settings(SMSREST={**SMSREST, "OVERRIDE_RECIPIENTS": ["nope"]}),
        pytest.raises(ImproperlyConfigured, match="OVERRIDE_RECIPIENTS"),
    ):
        get_settings()


def test_admin_banner_while_on(db: None) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw"))
    url = reverse("admin:django_smsrest_smsmessage_changelist")
    assert "smsrest-override-banner" not in client.get(url).content.decode()
    with override_settings(SMSREST=OVERRIDE):
        html = client.get(url).content.decode()
        assert 'id="smsrest-override-banner"' in html and TESTER in html
        add = client.get(reverse("admin:django_smsrest_smsmessage_add")).content.decode()
        assert "smsrest-override-banner" in add


def test_check_deploy_warns_with_debug_off_only() -> None:
    def ids() -> set[str]:
        return {m.id for m in run_checks(include_deployment_checks=True)}

    with override_settings(SMSREST=OVERRIDE, DEBUG=False):
        assert "django_smsrest.W101" in ids()
    with override_settings(SMSREST=OVERRIDE, DEBUG=True):
        assert "django_smsrest.W101" not in ids()
    with override_settings(DEBUG=False):
        assert "django_smsrest.W101" not in ids()
