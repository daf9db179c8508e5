"""Every database a project routes to: a router puts the app's tables on a second
PostgreSQL alias (``second``); everything the app does must happen there: send, flush (the
batched claim compiles its SQL for that alias), sweep, inbound, delivery callbacks, and the
admin (whose credits are cached on ``SMSREST["CACHE"]``)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client, override_settings
from django.urls import include, path
from django.utils import timezone

from django_smsrest import dispatch, services
from django_smsrest.admin.changelist import CREDITS_CACHE_KEY
from django_smsrest.backends import locmem
from django_smsrest.models import ReceivedSms, SmsMessage, Status
from django_smsrest.testing.outbox import sms_outbox  # noqa: F401 (fixture)
from tests.settings import SMSREST

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("SMSREST_TEST_DB") != "postgres",
        reason="needs PostgreSQL (SMSREST_TEST_DB=postgres): two databases on one server",
    ),
    pytest.mark.django_db(databases=["default", "second"], transaction=True),
    pytest.mark.urls(__name__),
]

TOKEN = "router-token-0123456789"
urlpatterns = [
    path("sms/", include("django_smsrest.urls")),
    path("admin/", include("tests.urls")),
]


class AppOnSecond:
    """The app's tables on ``second``; everything else (auth, admin log) on ``default``."""

    def _route(self, model: type[Any], **hints: Any) -> str | None:
        return "second" if model._meta.app_label == "django_smsrest" else None

    db_for_read = db_for_write = _route

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return None


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> Any:
    caches_setting = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "smsrest": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "smsrest-router",
        },
    }
    smsrest = {**SMSREST, "CONCURRENCY": 4, "CACHE": "smsrest", "CALLBACK_TOKENS": [TOKEN]}
    with override_settings(
        DATABASE_ROUTERS=[f"{__name__}.AppOnSecond"], CACHES=caches_setting, SMSREST=smsrest
    ):
        yield
        caches["smsrest"].clear()


def _only_on_second(**filters: Any) -> int:
    assert not SmsMessage.objects.using("default").filter(**filters).exists()
    return SmsMessage.objects.using("second").filter(**filters).count()


def test_send_flush_and_sweep_happen_on_the_routed_database(
    routed: Any,
    sms_outbox: list,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = services.send_sms("Ciao", ["+393471234567"])
    assert sent.status == Status.SENT
    assert _only_on_second(pk=sent.pk, status=Status.SENT) == 1

    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)  # no task worker
    queued = [services.queue_sms(f"n{i}", ["+393471234567"]).pk for i in range(6)]
    report = services.flush_queue()  # the batched claim: raw SQL for the routed alias
    assert report.by_status == {Status.SENT: 6}, report
    assert _only_on_second(pk__in=queued, status=Status.SENT) == 6

    lost = services.queue_sms("lost", ["+393471234567"])  # a worker died after its POST
    SmsMessage.objects.filter(pk=lost.pk).update(
        status=Status.SENDING, lease_until=timezone.now() - timedelta(seconds=1)
    )
    swept = services.sweep()
    assert swept.expired_leases == 1 and swept.reconciled == {Status.QUEUED: 1}
    assert not swept.busy and swept.errors == 0


def test_inbound_and_callbacks_happen_on_the_routed_database(
    routed: Any,
    sms_outbox: list,  # noqa: F811
) -> None:
    from django.db import transaction

    from django_smsrest import signals

    heard: list[str] = []

    def receiver(sender: Any, message: ReceivedSms, **kwargs: Any) -> None:
        heard.append(message.text)

    locmem.deliver_inbound("+393479999999", "Hello back")
    signals.sms_received.connect(receiver)
    try:
        with transaction.atomic(using="second"):  # the caller's transaction, where the rows go
            assert services.receive_sms().stored == 1
            assert heard == []  # announced when the rows are committed, not before
        assert heard == ["Hello back"]
    finally:
        signals.sms_received.disconnect(receiver)
    assert ReceivedSms.objects.using("second").count() == 1
    assert not ReceivedSms.objects.using("default").exists()

    msg = services.send_sms("Ciao", ["+393471234567"])
    fields = {"order_id": msg.order_id, "recipient": "393471234567", "status": "DLVRD"}
    response = Client().post(f"/sms/callback/{TOKEN}/", fields)
    assert response.content == b"OK applied"
    assert _only_on_second(pk=msg.pk, status=Status.DELIVERED) == 1


def test_the_admin_reads_the_routed_database_and_caches_on_the_apps_cache(
    routed: Any,
    sms_outbox: list,  # noqa: F811
) -> None:
    from django.contrib.auth.models import User

    msg = services.send_sms("Ciao dal router", ["+393471234567"])
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    changelist = client.get("/admin/admin/django_smsrest/smsmessage/")
    assert changelist.status_code == 200
    assert "Ciao dal router" in changelist.content.decode()
    change = client.get(f"/admin/admin/django_smsrest/smsmessage/{msg.pk}/change/")
    assert change.status_code == 200
    assert caches["smsrest"].get(CREDITS_CACHE_KEY) is not None
    assert caches["default"].get(CREDITS_CACHE_KEY) is None
