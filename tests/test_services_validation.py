"""services.validate_sms: every problem reported at once, per field, in words a person reads."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from django_smsrest import services
from django_smsrest.conf import get_settings
from django_smsrest.models import SmsMessage
from tests.settings import SMSREST

MOBILE = "+393471234567"


def errors_of(**kwargs: object) -> dict[str, list[str]]:
    kwargs.setdefault("message", "Hello")
    kwargs.setdefault("recipients", [MOBILE])
    message = kwargs.pop("message")
    recipients = kwargs.pop("recipients")
    with pytest.raises(ValidationError) as info:
        services.validate_sms(message, recipients, **kwargs)  # type: ignore[arg-type]
    return info.value.message_dict


def test_valid_sms_resolves_defaults_and_counts() -> None:
    sms = services.validate_sms("Ciao è già", ["347 123 4567", "+39 347 1234567", "+393471234568"])
    assert sms.recipients == (MOBILE, "+393471234568")  # national read with IT, deduplicated
    assert sms.message_type == "N"  # the brand's default
    assert sms.encoding == "gsm"  # è and à are GSM-7
    assert (sms.segments, sms.credits, sms.orders) == (1, 2, 1)
    assert sms.sender == ""


def test_ucs2_multipart_credits_and_orders() -> None:
    conf = get_settings()
    from django_smsrest.conf import replace

    conf = replace(conf, max_recipients_per_order=2)
    numbers = [f"+39347123456{i}" for i in range(5)]
    sms = services.validate_sms("È" * 71, numbers, conf=conf)
    assert (sms.encoding, sms.segments, sms.credits, sms.orders) == ("ucs2", 2, 10, 3)


@pytest.mark.parametrize(
    ("kwargs", "field", "needle"),
    [
        ({"message": ""}, "message", "empty"),
        ({"message": "   "}, "message", "empty"),
        ({"message": "a" * 1001}, "message", "1000 characters"),
        ({"message": "a" * 1001}, "message", "7 SMS segments"),
        ({"message": "È" * 451}, "message", "UCS-2"),
        ({"message": "È" * 451}, "message", "“È”"),
        ({"message": "a" * 161, "message_type": "LL"}, "message", "type LL"),
        ({"message": "a" * 161, "message_type": "LL"}, "message", "only 1 segment"),
        ({"message": "a" * 1200}, "message", "at most 1000 characters"),  # not MAX_SEGMENTS too
        ({"recipients": []}, "recipients", "at least one recipient"),
        ({"recipients": ["12"]}, "recipients", "“12”"),
        ({"recipients": ["+39 347 123*4567"]}, "recipients", "characters"),
        ({"message_type": "ZZ"}, "message_type", "N (High quality"),
        ({"message_type": "ZZ"}, "message_type", "“ZZ”"),
        ({"sender": "ACME Corporation"}, "sender", "at most 11"),
        ({"sender": "+12345678901234567"}, "sender", "at most 16"),
        ({"sender": "ACMÉ!"}, "sender", "“!”"),
        ({"sender": "ACME", "message_type": "LL"}, "sender", "does not allow a custom sender"),
        (
            {"scheduled_delivery_time": datetime(2030, 1, 1, 12, 0)},
            "scheduled_delivery_time",
            "no time zone",
        ),
        (
            {"scheduled_delivery_time": timezone.now() - timedelta(minutes=1)},
            "scheduled_delivery_time",
            "in the past",
        ),
    ],
)
def test_each_problem_is_reported_on_its_field(kwargs: dict, field: str, needle: str) -> None:
    errors = errors_of(**kwargs)
    assert field in errors, errors
    assert any(needle in text for text in errors[field]), errors[field]


def test_every_problem_is_listed_at_once_and_each_bad_number_named() -> None:
    errors = errors_of(
        message="",
        recipients=["12", "abc", MOBILE],
        sender="Way too long sender",
        message_type="ZZ",
        scheduled_delivery_time=timezone.now() - timedelta(days=1),
    )
    assert set(errors) == {
        "message",
        "recipients",
        "sender",
        "message_type",
        "scheduled_delivery_time",
    }
    assert len(errors["recipients"]) == 2
    assert "12" in errors["recipients"][0] and "abc" in errors["recipients"][1]


def test_too_long_message_says_length_encoding_segments_and_limit() -> None:
    [text] = errors_of(message="a" * 1001, recipients=[MOBILE])["message"][:1]
    assert "1001 characters" in text and "GSM-7" in text and "7 SMS segments" in text
    assert "1000" in text


@override_settings(SMSREST={**SMSREST, "DEFAULT_REGION": None})
def test_national_number_without_default_region_explains_the_fix() -> None:
    [text] = errors_of(recipients=["347 123 4567"])["recipients"]
    assert "international format" in text and "DEFAULT_REGION" in text


@override_settings(SMSREST={**SMSREST, "DEFAULT_SENDER": "ACME"})
def test_default_sender_applies_only_where_the_type_allows_one() -> None:
    assert services.validate_sms("Hi", [MOBILE]).sender == "ACME"
    assert services.validate_sms("Hi", [MOBILE], message_type="LL").sender == ""
    assert services.validate_sms("Hi", [MOBILE], sender="").sender == ""


@override_settings(SMSREST={**SMSREST, "BRAND": "skebby"})
def test_unknown_type_lists_the_brands_types() -> None:
    [text] = errors_of(message_type="N")["message_type"]
    assert "Skebby" in text and "GP" in text and "TI" in text and "SI" in text


def test_numeric_sender_up_to_16_is_fine() -> None:
    assert services.validate_sms("Hi", [MOBILE], sender="+393471234567").sender == "+393471234567"


def test_messages_are_translatable() -> None:
    from django.utils import translation

    with translation.override("it"):
        errors = errors_of(message="")
    assert errors["message"]  # rendered lazily in the active language (no crash)


@pytest.mark.django_db
def test_send_sms_with_bad_input_writes_nothing() -> None:
    with pytest.raises(ValidationError):
        services.send_sms("", ["12"])
    assert SmsMessage.objects.count() == 0
