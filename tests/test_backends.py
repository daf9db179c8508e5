"""Backends: selection, the per-process REST client cache, locmem/console, test helpers."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from django.test import override_settings
from django.utils import timezone

from django_smsrest.backends import get_backend, locmem, rest
from django_smsrest.backends.base import OutgoingOrder
from django_smsrest.backends.console import ConsoleBackend
from django_smsrest.backends.locmem import LocmemBackend
from django_smsrest.backends.rest import RestBackend
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import GatewayTimeout, OrderNotFound, SmsRestConfigurationError
from django_smsrest.results import DeliveryState
from django_smsrest.testing import outbox as outbox_helpers
from django_smsrest.testing.outbox import assert_sms_sent, clear_outbox, outbox
from tests.settings import SMSREST

# The package's pytest fixture (an empty locmem outbox per test).
sms_outbox = outbox_helpers.sms_outbox

A, B = "+393471234567", "+393471234568"
REST = {**SMSREST, "BACKEND": "django_smsrest.backends.rest.RestBackend"}


def order(
    order_id: str = "o1", *, when: timedelta | None = None, text: str = "Hello"
) -> OutgoingOrder:
    return OutgoingOrder(
        message=text,
        recipients=(A, B),
        message_type="N",
        sender="",
        scheduled_delivery_time=timezone.now() + when if when is not None else None,
        order_id=order_id,
        encoding="gsm",
    )


# --- selection ----------------------------------------------------------------------------


def test_get_backend_uses_the_setting() -> None:
    assert isinstance(get_backend(), LocmemBackend)
    with override_settings(
        SMSREST={**SMSREST, "BACKEND": "django_smsrest.backends.console.ConsoleBackend"}
    ):
        assert isinstance(get_backend(), ConsoleBackend)


@pytest.mark.parametrize("path", ["no.such.Backend", "django_smsrest.conf.SmsRestSettings"])
def test_a_bad_backend_setting_names_the_key(path: str) -> None:
    with (
        override_settings(SMSREST={**SMSREST, "BACKEND": path}),
        pytest.raises(SmsRestConfigurationError, match=r"SMSREST\['BACKEND'\]"),
    ):
        get_backend()


# --- REST client cache --------------------------------------------------------------------


def test_rest_client_is_cached_per_settings() -> None:
    rest.reset_clients()
    with override_settings(SMSREST=REST):
        first = get_backend().client  # type: ignore[attr-defined]
        assert get_backend().client is first  # type: ignore[attr-defined]
    with override_settings(SMSREST={**REST, "USERNAME": "someone-else"}):
        other = get_backend().client  # type: ignore[attr-defined]
        assert other is not first and other.username == "someone-else"
    rest.reset_clients()


def test_rest_client_cache_is_reset_after_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    rest.reset_clients()
    conf = get_settings()
    first = rest.get_client(conf)
    monkeypatch.setattr(rest.os, "getpid", lambda: -1)  # we are a forked child now
    assert rest.get_client(conf) is not first
    rest.reset_clients()


def test_rest_cache_key_holds_no_plain_password() -> None:
    assert get_settings().password.reveal() not in repr(rest._key(get_settings()))


def test_rest_backend_needs_credentials() -> None:
    with (
        override_settings(SMSREST={**REST, "USERNAME": ""}),
        pytest.raises(SmsRestConfigurationError, match=r"SMSREST\['USERNAME'\]"),
    ):
        get_backend()


@responses.activate
def test_rest_backend_maps_an_order_to_one_post() -> None:
    rest.reset_clients()
    base = "https://gateway.test/API/v1.0/REST/"
    responses.add(responses.GET, base + "login", body="U;S")
    responses.add(
        responses.POST,
        base + "sms",
        status=201,
        json={"result": "OK", "order_id": "o1", "total_sent": 2, "remaining_credits": 5},
    )
    backend = RestBackend(get_settings())
    result = backend.send(order())
    body = json.loads(responses.calls[-1].request.body)
    assert body["order_id"] == "o1" and body["recipient"] == [A, B]
    assert "sender" not in body  # empty sender: the account's default, not ""
    assert (result.total_sent, result.remaining_credits) == (2, 5)
    rest.reset_clients()


# --- locmem -------------------------------------------------------------------------------


def test_locmem_records_and_answers_like_the_gateway(sms_outbox: list) -> None:
    backend = LocmemBackend(get_settings())
    result = backend.send(order("o1"))
    assert result.order_id == "o1" and result.total_sent == 2
    assert result.remaining_credits == locmem.DEFAULT_CREDITS - 2
    assert sms_outbox == [order("o1")]
    states = {r.destination: r.state for r in backend.get_order("o1").recipients}
    assert states == {A: DeliveryState.SENT, B: DeliveryState.SENT}
    assert locmem.set_delivery_state("DLVRD", order_id="o1", to=A) == 1
    states = {r.destination: r.state for r in backend.get_order("o1").recipients}
    assert states[A] is DeliveryState.DLVRD
    with pytest.raises(OrderNotFound):
        backend.get_order("nope")
    with pytest.raises(OrderNotFound):
        backend.cancel("o1")  # not scheduled
    assert backend.get_status().credits["N"] == locmem.DEFAULT_CREDITS - 2


def test_locmem_scheduled_orders_can_be_cancelled(sms_outbox: list) -> None:
    backend = LocmemBackend(get_settings())
    backend.send(order("s1", when=timedelta(hours=1)))
    assert {r.state for r in backend.get_order("s1").recipients} == {DeliveryState.SCHEDULED}
    backend.cancel("s1")
    with pytest.raises(OrderNotFound):
        backend.get_order("s1")


def test_locmem_fail_next_before_or_after_accepting(sms_outbox: list) -> None:
    backend = LocmemBackend(get_settings())
    locmem.fail_next("send", GatewayTimeout("t"))
    with pytest.raises(GatewayTimeout):
        backend.send(order("f1"))
    assert sms_outbox == []
    locmem.fail_next("send", GatewayTimeout("t"), accept=True)
    with pytest.raises(GatewayTimeout):
        backend.send(order("f2"))
    assert [o.order_id for o in sms_outbox] == ["f2"] and backend.get_order("f2")
    assert locmem.calls("send") == 2
    with pytest.raises(ValueError, match="unknown operation"):
        locmem.fail_next("post", GatewayTimeout("t"))


def test_console_backend_prints_and_records(
    sms_outbox: list, capsys: pytest.CaptureFixture[str]
) -> None:
    ConsoleBackend(get_settings()).send(order("c1", text="Ciao"))
    out = capsys.readouterr().out
    assert "c1" in out and A in out and "Ciao" in out
    assert len(sms_outbox) == 1


# --- test helpers -------------------------------------------------------------------------


def test_assert_sms_sent_explains_what_was_sent(sms_outbox: list) -> None:
    LocmemBackend(get_settings()).send(order("h1", text="Your code is 1234"))
    assert assert_sms_sent(to=A, text_contains="1234", count=1)
    with pytest.raises(AssertionError) as info:
        assert_sms_sent(to="+390000000000")
    message = str(info.value)
    assert "Expected at least one SMS to +390000000000, found 0" in message
    assert "Your code is 1234" in message
    with pytest.raises(AssertionError, match="exactly 2"):
        assert_sms_sent(count=2)


def test_clear_outbox_keeps_the_same_list() -> None:
    LocmemBackend(get_settings()).send(order("k1"))
    same = outbox
    clear_outbox()
    assert same is locmem.outbox and same == []
