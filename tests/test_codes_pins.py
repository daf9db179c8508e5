"""The gateway's own PIN service (issue 22, item 9): the client pair, the sandbox endpoints
over a real socket, and django-otp's GatewayPinDevice."""

from __future__ import annotations

import json
import re

import pytest
import requests
import responses
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import override_settings

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.client import SmsRestClient
from django_smsrest.client.pins import parse_pin_check
from django_smsrest.contrib.otp.models import GatewayPinDevice
from django_smsrest.exceptions import GatewayRejected
from django_smsrest.sandbox.fidelity import FIDELITY
from django_smsrest.testing.sandbox import run_sandbox
from tests.settings import SMSREST

NUMBER = "+393471234567"
BASE = "https://gateway.test/API/v1.0/REST/"


# --- the client, with responses -------------------------------------------------------------


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        rsps.get(BASE + "login", body="UK;SK")
        yield rsps


def _client() -> SmsRestClient:
    return SmsRestClient(BASE, "user", "pass")


def test_request_pin_posts_the_documented_fields(mocked):
    call = mocked.post(BASE + "2fa/request", json={"result": "OK"})
    _client().request_pin(
        NUMBER, message_body="Codice: %PIN%", expiry_minutes=3, sender_name="MyShop"
    )
    assert json.loads(call.calls[0].request.body) == {
        "recipient": NUMBER,
        "messageBody": "Codice: %PIN%",
        "expiry": 3,
        "senderName": "MyShop",
    }
    assert call.calls[0].request.headers["user_key"] == "UK"


def test_request_pin_checks_its_arguments_before_posting():
    with pytest.raises(ValueError, match="%PIN%"):
        _client().request_pin(NUMBER, message_body="no placeholder")
    with pytest.raises(ValueError):
        _client().request_pin(NUMBER, expiry_minutes=0)


def test_request_pin_400_is_gateway_rejected(mocked):
    mocked.post(BASE + "2fa/request", status=400, json={"error": "not enough credit"})
    with pytest.raises(GatewayRejected):
        _client().request_pin(NUMBER)


@pytest.mark.parametrize(
    ("answer", "valid", "tries"),
    [
        ({"status": "OK", "remaining_tries": 2}, True, 2),
        ({"status": "ERROR", "remainingTries": "1"}, False, 1),
        ({"result": "success"}, True, None),  # the third-party SDK's shape
        ({"result": "error", "tries": 0}, False, 0),
        ({}, False, None),
    ],
)
def test_verify_answers_are_read_leniently(mocked, answer, valid, tries):
    mocked.post(BASE + "2fa/verify", json=answer)
    check = _client().verify_pin(NUMBER, "123456")
    assert (check.valid, check.remaining_tries) == (valid, tries)
    assert parse_pin_check(answer) == check


# --- the sandbox, over a real socket ----------------------------------------------------------


def _pin_of(sandbox) -> str:
    text = sandbox.snapshot()["pins"][-1]["text"]
    return re.search(r"\d{6}", text).group(0)


def test_the_sandbox_pin_service():
    with run_sandbox() as sandbox:
        client = SmsRestClient(
            sandbox.base_url, sandbox.username, sandbox.password, timeout=(2.0, 5.0)
        )
        client.request_pin(NUMBER, message_body="Il tuo PIN è %PIN%", expiry_minutes=2)
        pins = sandbox.snapshot()["pins"]
        assert pins[0]["recipient"] == NUMBER and pins[0]["text"].startswith("Il tuo PIN è ")
        pin = _pin_of(sandbox)
        wrong = "000000" if pin != "000000" else "111111"
        assert client.verify_pin(NUMBER, wrong).remaining_tries == 2
        assert client.verify_pin(NUMBER, pin).valid
        assert not client.verify_pin(NUMBER, pin).valid  # used up
        with pytest.raises(GatewayRejected):
            client.request_pin("12")
        page = requests.get(sandbox.page_url, timeout=5).text
        assert "PINs sent" in page and pins[0]["text"] in page


def test_the_fidelity_table_marks_the_pin_answers_invented():
    levels = {b.name: b.level for b in FIDELITY if "2fa" in b.name}
    assert "invented" in levels.values() and "confirmed" in levels.values()


# --- django-otp's GatewayPinDevice ----------------------------------------------------------


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("anna", password="x")


@pytest.mark.django_db
def test_gateway_pin_device_with_the_fake_gateway(user, clean_gateway):
    device = GatewayPinDevice.objects.create(user=user, name="pin", number=NUMBER)
    assert device.generate_challenge() == "sent by SMS"
    number, text = locmem.sent_pins[-1]
    pin = re.search(r"\d{6}", text).group(0)
    assert number == NUMBER and text.startswith("Your login code is ")
    assert not device.verify_token("x")
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    device.throttle_reset()
    assert device.verify_token(pin)


@pytest.mark.django_db
@override_settings(SMSREST={**SMSREST, "RATE_LIMITS": {"CODES_PER_NUMBER": ["1/hour"]}})
def test_gateway_pins_are_rate_limited(user, clean_gateway):
    device = GatewayPinDevice.objects.create(user=user, name="pin", number=NUMBER)
    device.generate_challenge()
    with pytest.raises(services.CodeRateLimited):
        device.generate_challenge()
    assert len(locmem.sent_pins) == 1


@pytest.mark.django_db
def test_request_pin_refuses_a_text_without_the_placeholder(clean_gateway):
    with pytest.raises(ValidationError) as exc:
        services.request_pin(NUMBER, message_body="no pin here")
    assert "%PIN%" in exc.value.message_dict["message"][0]


@pytest.mark.django_db
def test_gateway_pin_device_through_the_sandbox(user, smsrest_sandbox_settings):
    device = GatewayPinDevice.objects.create(user=user, name="pin", number=NUMBER)
    device.generate_challenge()
    sent = smsrest_sandbox_settings.snapshot()["pins"][-1]
    assert sent["text"].startswith("Your login code is ")
    assert device.verify_token(_pin_of(smsrest_sandbox_settings))
