"""The plug-ins (issue 22, items 6-8), driven through the installed libraries' own entry
points: django-two-factor-auth's gateway dispatch, django-otp's device API, django-allauth's
account adapter."""

from __future__ import annotations

import pytest
from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import translation
from django_otp import devices_for_user, match_token
from phonenumber_field.phonenumber import PhoneNumber
from two_factor import gateways
from two_factor.plugins.phonenumber.models import PhoneDevice
from two_factor.plugins.registry import registry

from django_smsrest.backends import locmem
from django_smsrest.contrib.allauth import SmsRestPhoneAdapterMixin
from django_smsrest.contrib.delivery import CodeNotSent
from django_smsrest.contrib.otp.models import SmsRestDevice
from django_smsrest.exceptions import GatewayConnectionError, GatewayRejected
from django_smsrest.models import SmsMessage, Status
from django_smsrest.services import CodeRateLimited
from django_smsrest.testing import outbox as outbox_helpers
from tests.settings import SMSREST

sms_outbox = outbox_helpers.sms_outbox

pytestmark = pytest.mark.django_db

NUMBER = "+393471234567"
GATEWAY = "django_smsrest.contrib.two_factor.Gateway"


@pytest.fixture(autouse=True)
def _clean(clean_gateway):
    yield


@pytest.fixture
def user():
    return get_user_model().objects.create_user("anna", password="x")


# --- django-two-factor-auth ----------------------------------------------------------------


@override_settings(TWO_FACTOR_SMS_GATEWAY=GATEWAY)
def test_two_factor_sends_the_token_through_the_outbox(sms_outbox, user):
    assert registry.get_method("sms") is not None  # the library registered SMS for us
    device = PhoneDevice.objects.create(user=user, name="default", number=NUMBER, method="sms")
    assert isinstance(device.number, PhoneNumber)
    with translation.override("it"):
        device.generate_challenge()  # -> two_factor.gateways.send_sms -> our Gateway
    assert len(sms_outbox) == 1
    text = sms_outbox[0].message
    assert text.startswith("Il tuo codice di accesso è ")
    token = text.split(" è ")[1].split(".")[0]
    assert device.verify_token(token)  # the very token the library made
    stored = SmsMessage.objects.get()
    assert stored.is_code and token not in stored.message and "••••••" in stored.message


@override_settings(TWO_FACTOR_SMS_GATEWAY=GATEWAY)
def test_two_factor_gets_a_clear_error_when_the_code_did_not_go_out(sms_outbox, user):
    device = PhoneDevice(user=user, name="default", number=NUMBER, method="sms")
    locmem.fail_next("send", GatewayRejected("bad sender", status_code=400))
    with pytest.raises(CodeNotSent) as exc:
        gateways.send_sms(device=device, token="123456")
    assert str(exc.value) == "The code could not be sent by SMS. Please try again later."
    assert exc.value.message.status == Status.FAILED
    locmem.fail_next("send", GatewayConnectionError("down"))
    with pytest.raises(CodeNotSent) as exc:
        gateways.send_sms(device=device, token="654321")
    assert "will be retried" in str(exc.value)


# --- django-otp ----------------------------------------------------------------------------


def test_otp_device_challenge_and_verify(sms_outbox, user):
    device = SmsRestDevice.objects.create(user=user, name="phone", number=NUMBER)
    assert device.is_interactive()
    assert device.generate_challenge() == "sent by SMS"
    token = sms_outbox[0].message.split()[4].rstrip(".")
    assert token == device.token and len(token) == 6
    assert (device.valid_until - SmsMessage.objects.get().created_at).total_seconds() <= 181
    # Cooldown: a second challenge right away sends nothing.
    assert "wait" in device.generate_challenge()
    assert len(sms_outbox) == 1
    # django-otp's own matching finds the device and the token is then used up.
    assert list(devices_for_user(user)) == [device]
    assert match_token(user, token) == device
    device.refresh_from_db()
    assert not device.verify_token(token)


def test_otp_device_throttles_wrong_tokens(sms_outbox, user):
    device = SmsRestDevice.objects.create(user=user, name="phone", number=NUMBER)
    device.generate_challenge()
    assert not device.verify_token("000000")
    allowed, data = device.verify_is_allowed()
    assert not allowed and data["failure_count"] == 1
    assert not device.verify_token(device.token)  # throttled, even the right one


def test_otp_device_raises_when_the_sms_failed(sms_outbox, user):
    device = SmsRestDevice.objects.create(user=user, name="phone", number=NUMBER)
    locmem.fail_next("send", GatewayRejected("refused", status_code=400))
    with pytest.raises(CodeNotSent):
        device.generate_challenge()


def test_otp_device_number_is_checked(user):
    device = SmsRestDevice(user=user, name="phone", number="347 123 4567")
    device.full_clean()
    assert device.number == NUMBER
    with pytest.raises(ValidationError):
        SmsRestDevice(user=user, name="phone", number="12").full_clean()


def test_otp_device_admin(admin_client, user, sms_outbox):
    device = SmsRestDevice.objects.create(user=user, name="phone", number=NUMBER)
    device.generate_challenge()
    page = admin_client.get(f"/admin/smsrest_otp/smsrestdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert NUMBER in page.content.decode()
    assert device.token not in page.content.decode()
    assert admin_client.get("/admin/smsrest_otp/smsrestdevice/").status_code == 200


# --- django-allauth ------------------------------------------------------------------------


class Adapter(SmsRestPhoneAdapterMixin, DefaultAccountAdapter):
    pass


def test_allauth_verification_code(sms_outbox, user):
    with translation.override("it"):
        Adapter().send_verification_code_sms(user=user, phone=NUMBER, code="ABC123")
    assert sms_outbox[0].message == "Il tuo codice di verifica è ABC123."
    stored = SmsMessage.objects.get()
    assert stored.message == "Il tuo codice di verifica è ••••••."


def test_allauth_notices_are_rate_limited_quietly(sms_outbox, caplog):
    adapter = Adapter()
    with override_settings(SMSREST={**SMSREST, "RATE_LIMITS": {"CODES_PER_NUMBER": ["2/hour"]}}):
        adapter.send_unknown_account_sms(NUMBER)
        adapter.send_account_already_exists_sms(NUMBER)
        adapter.send_unknown_account_sms(NUMBER)  # the third: refused, not raised
        with pytest.raises(CodeRateLimited):
            adapter.send_verification_code_sms(user=None, phone=NUMBER, code="999999")
    assert [o.message.split()[0] for o in sms_outbox] == ["Someone", "An"]
    assert "Login code refused" in caplog.text


def test_the_mixin_implements_what_allauth_calls():
    for name in (
        "send_verification_code_sms",
        "send_unknown_account_sms",
        "send_account_already_exists_sms",
    ):
        assert getattr(Adapter, name) is getattr(SmsRestPhoneAdapterMixin, name)
        assert hasattr(DefaultAccountAdapter, name)
