"""Backends as a contract: an ABC with capability flags that the services ask."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import BaseBackend, UnsupportedOperation, get_backend
from django_smsrest.backends.console import ConsoleBackend
from django_smsrest.backends.locmem import LocmemBackend
from django_smsrest.backends.rest import RestBackend
from django_smsrest.conf import get_settings
from django_smsrest.results import AccountStatus, SendResult
from tests.settings import SMSREST

FLAGS = ("supports_status", "supports_cancel", "supports_params", "supports_groups")


class SendOnlyBackend(BaseBackend):
    """A transport that can only send (an SMTP-to-SMS bridge, say)."""

    name = "send-only"
    sent: list = []

    def send(self, order):
        self.sent.append(order)
        return SendResult(order_id=order.order_id, total_sent=len(order.recipients))

    def get_status(self):
        return AccountStatus(credits={})


def test_a_backend_must_implement_send_and_get_status() -> None:
    class Incomplete(BaseBackend):
        def get_status(self):
            return AccountStatus(credits={})

    with pytest.raises(TypeError, match="send"):
        Incomplete(get_settings())  # type: ignore[abstract]


@pytest.mark.parametrize("backend", [RestBackend, LocmemBackend, ConsoleBackend])
def test_the_shipped_backends_declare_what_they_do(backend: type[BaseBackend]) -> None:
    assert backend.supports_status and backend.supports_cancel
    for flag in FLAGS:
        declared = getattr(backend, flag)
        assert isinstance(declared, bool)
        if flag in ("supports_status", "supports_cancel"):
            method = {"supports_status": "get_order", "supports_cancel": "cancel"}[flag]
            overridden = getattr(backend, method) is not getattr(BaseBackend, method)
            assert overridden == declared, f"{backend.__name__}.{method} vs {flag}"


def test_an_operation_whose_flag_is_off_says_so() -> None:
    backend = SendOnlyBackend(get_settings())
    with pytest.raises(UnsupportedOperation, match=r"cannot cancel .*supports_cancel is False"):
        backend.cancel("x")
    with pytest.raises(UnsupportedOperation, match="supports_status is False"):
        backend.get_order("x")


SEND_ONLY = {**SMSREST, "BACKEND": "tests.test_backend_contract.SendOnlyBackend"}


@pytest.mark.django_db
def test_services_ask_the_flags_instead_of_failing() -> None:
    with override_settings(SMSREST=SEND_ONLY):
        assert isinstance(get_backend(), SendOnlyBackend)
        later = timezone.now() + timedelta(days=1)
        msg = services.send_sms("Tomorrow", ["+393471234567"], scheduled_delivery_time=later)
        assert msg.status == "scheduled"
        with pytest.raises(services.SmsStateError, match="cannot cancel a scheduled message"):
            services.cancel(msg)
        refreshed = services.refresh_status(msg)
        assert refreshed.status == "scheduled" and refreshed.next_status_check_at is None
        msg.refresh_from_db()
        assert msg.next_status_check_at is None  # no longer polled


@pytest.mark.django_db
def test_the_admin_shows_only_the_buttons_the_backend_can_do(client) -> None:
    from django.contrib.auth.models import User
    from django.urls import reverse

    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    later = timezone.now() + timedelta(days=1)
    with override_settings(SMSREST=SEND_ONLY):
        msg = services.send_sms("Tomorrow", ["+393471234567"], scheduled_delivery_time=later)
        page = client.get(reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk]))
    html = page.content.decode()
    assert "/cancel/" not in html and "/refresh/" not in html
    page = client.get(reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk]))
    html = page.content.decode()  # locmem can do both
    assert "/cancel/" in html and "/refresh/" in html
