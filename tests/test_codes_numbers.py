"""Numbers as projects store them: ``phonenumbers.PhoneNumber`` (and django-phonenumber-field's
subclass) are accepted wherever a number is; ``PHONENUMBER_DEFAULT_REGION`` is the fallback
region (issue 22, item 1)."""

from __future__ import annotations

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from phonenumber_field.phonenumber import PhoneNumber as FieldPhoneNumber

from django_smsrest import phone, services
from django_smsrest.conf import get_settings
from django_smsrest.testing import outbox as outbox_helpers
from tests.settings import SMSREST

sms_outbox = outbox_helpers.sms_outbox

pytestmark = pytest.mark.django_db

NUMBER = "+393471234567"


def test_normalize_accepts_a_phonenumbers_object():
    assert phone.normalize(phonenumbers.parse(NUMBER)) == NUMBER
    # django-phonenumber-field's subclass, as a model field returns it.
    assert phone.normalize(FieldPhoneNumber.from_string(NUMBER)) == NUMBER


def test_normalize_refuses_an_invalid_phonenumber_with_the_usual_reasons():
    # What django-phonenumber-field returns for a stored value it could not parse.
    with pytest.raises(phone.InvalidPhoneNumber) as exc:
        phone.normalize(FieldPhoneNumber(raw_input="not a number"))
    assert exc.value.code in {"characters", "not_a_number"}  # as for the same text
    with pytest.raises(phone.InvalidPhoneNumber) as exc:
        phone.normalize(phonenumbers.parse("+39 347 1234567 ext. 5"))
    assert exc.value.code == "extension"
    with pytest.raises(phone.InvalidPhoneNumber) as exc:
        phone.normalize(phonenumbers.parse("+39 123", None))
    assert exc.value.code in {"invalid", "too_short"}


def test_send_sms_takes_phonenumber_objects(sms_outbox):
    number = FieldPhoneNumber.from_string("347 123 4567", region="IT")
    msg = services.send_sms("Ciao", [number, phonenumbers.parse("+393471234568")])
    assert list(msg.recipients.values_list("phone_number", flat=True)) == [
        NUMBER,
        "+393471234568",
    ]
    # One number on its own, as ``user.phone`` is.
    services.send_sms("Ciao", number)
    assert sms_outbox[-1].recipients == (NUMBER,)


def test_personalised_maps_take_phonenumber_objects(sms_outbox):
    msg = services.send_sms(
        "Ciao ${name}", [{"recipient": FieldPhoneNumber.from_string(NUMBER), "name": "Anna"}]
    )
    assert msg.recipients.get().phone_number == NUMBER


def test_an_invalid_phonenumber_object_is_a_clear_error(sms_outbox):
    with pytest.raises(ValidationError) as exc:
        services.send_sms("Ciao", [FieldPhoneNumber(raw_input="12")])
    text = " ".join(exc.value.message_dict["recipients"])
    assert "is a PhoneNumber" not in text  # the message of today's main
    assert "“12”" in text
    assert not sms_outbox


@override_settings(
    SMSREST={k: v for k, v in SMSREST.items() if k != "DEFAULT_REGION"},
    PHONENUMBER_DEFAULT_REGION="IT",
)
def test_phonenumber_default_region_is_the_fallback(sms_outbox):
    assert get_settings().default_region == "IT"
    msg = services.send_sms("Ciao", ["347 123 4567"])
    assert msg.recipients.get().phone_number == NUMBER


@override_settings(SMSREST={**SMSREST, "DEFAULT_REGION": "FR"}, PHONENUMBER_DEFAULT_REGION="IT")
def test_smsrest_default_region_wins_over_phonenumber_default_region():
    assert get_settings().default_region == "FR"


@override_settings(SMSREST={k: v for k, v in SMSREST.items() if k != "DEFAULT_REGION"})
def test_no_region_anywhere_stays_none():
    assert get_settings().default_region is None
