"""E.164 normalisation: table-driven cases for normalize() and normalize_many()."""

from __future__ import annotations

import pickle

import phonenumbers
import pytest

from django_smsrest import phone
from django_smsrest.phone import InvalidPhoneNumber, normalize, normalize_many

IT_MOBILE = "+393471234567"
US_NUMBER = "+16502530000"

# (raw, region, expected E.164)
VALID = [
    ("347 123 4567", "IT", IT_MOBILE),
    ("3471234567", "IT", IT_MOBILE),
    ("347-123-4567", "IT", IT_MOBILE),
    ("347 123 4567", "it", IT_MOBILE),  # region codes are case-insensitive
    ("+39 347 1234567", None, IT_MOBILE),
    ("+393471234567", None, IT_MOBILE),
    ("+39 (347) 123.45-67", None, IT_MOBILE),
    ("+39 347/1234567", None, IT_MOBILE),
    ("  +39 347 1234567\n", None, IT_MOBILE),
    ("+39\u00a0347\u00a01234567", None, IT_MOBILE),  # no-break spaces from copy/paste
    ("0039 347 1234567", None, IT_MOBILE),  # 00 without a region
    ("0039 347 1234567", "IT", IT_MOBILE),  # 00 is Italy's own international prefix
    ("0039 347 1234567", "US", IT_MOBILE),  # 00 although the US prefix is 011
    ("(0039) 347 1234567", None, IT_MOBILE),
    ("0011 39 347 1234567", "AU", IT_MOBILE),  # the region's own prefix wins
    ("+39 347 1234567", "US", IT_MOBILE),  # an explicit country code beats the region
    ("06 1234 5678", "IT", "+390612345678"),  # Italian landlines keep their leading 0
    ("(650) 253-0000", "US", US_NUMBER),
    ("650.253.0000", "US", US_NUMBER),
    ("+1 650 253 0000", None, US_NUMBER),
    ("001 650 253 0000", "IT", US_NUMBER),
    ("+44 7911 123456", "IT", "+447911123456"),
]

# (raw, region, code, text expected in the message)
INVALID = [
    ("", None, "empty", "empty"),
    ("   ", "IT", "empty", "empty"),
    ("123", "IT", "invalid", "'123' is not a valid phone number"),
    ("+39 123", None, "invalid", "'+39 123' is not a valid phone number"),
    ("+39 347 123", None, "invalid", "not a valid phone number"),
    ("+1 123 456 7890", None, "invalid", "not a valid phone number"),
    ("347 123 4567", "US", "invalid", "not a valid phone number"),
    ("3471234567", None, "no_country_code", "SMSREST['DEFAULT_REGION']"),
    ("347 123 4567", None, "no_country_code", "has no country code"),
    ("+999 1234567", None, "country_code", "unknown country code"),
    ("+0 123", "IT", "country_code", "unknown country code"),
    ("+39 1", None, "too_short", "too short"),
    ("+39 347 123456789012345678", None, "too_long", "too long"),
    ("abc", None, "not_a_number", "'abc' is not a phone number"),
    ("+", None, "not_a_number", "not a phone number"),
    ("1-800-FLOWERS", "US", "characters", "characters that are not part of a phone number"),
    ("Tel +39 347 1234567", None, "characters", "characters"),
    ("+39 347 1234567!", None, "characters", "characters"),
    ("+39 347 1234567 ext. 12", None, "extension", "has an extension"),
    ("+1 650 253 0000 x123", None, "extension", "has an extension"),
    ("+39 347 1234567#5", None, "extension", "has an extension"),
    ("+39 347 1234567;ext=5", None, "extension", "has an extension"),
]


@pytest.mark.parametrize(("raw", "region", "expected"), VALID)
def test_normalize_valid(raw: str, region: str | None, expected: str) -> None:
    assert normalize(raw, region) == expected


@pytest.mark.parametrize(("raw", "region", "code", "message"), INVALID)
def test_normalize_invalid(raw: str, region: str | None, code: str, message: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize(raw, region)
    assert info.value.code == code
    assert info.value.raw == raw
    assert message in str(info.value)
    assert str(info.value) == info.value.message


def test_no_country_code_message_tells_how_to_fix_it() -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize("3471234567")
    assert str(info.value) == (
        "'3471234567' has no country code; write it as +39... (the international format) "
        "or set SMSREST['DEFAULT_REGION']"
    )


def test_validity_not_just_possibility_is_checked() -> None:
    # phonenumbers' length check passes this (US area codes cannot start with 1)...
    parsed = phonenumbers.parse("+1 123 456 7890")
    assert phonenumbers.is_possible_number(parsed)
    # ...but it is not a number anybody can receive an SMS on.
    with pytest.raises(InvalidPhoneNumber):
        normalize("+1 123 456 7890")


def test_vanity_letters_are_rejected_although_phonenumbers_accepts_them() -> None:
    parsed = phonenumbers.parse("1-800-FLOWERS", "US")
    assert phonenumbers.is_valid_number(parsed)  # phonenumbers maps letters to digits
    with pytest.raises(InvalidPhoneNumber, match="characters"):
        normalize("1-800-FLOWERS", "US")


def test_invalid_phone_number_is_a_value_error_and_pickles() -> None:
    with pytest.raises(ValueError, match="not a valid phone number"):
        normalize("+39 123")
    error = InvalidPhoneNumber(" +39 123 ", "'+39 123' is not a valid phone number", "invalid")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.raw, clone.message, clone.code) == (error.raw, error.message, error.code)


def test_unknown_region_is_a_configuration_error_not_a_bad_number() -> None:
    with pytest.raises(ValueError, match="unknown region 'XX'") as info:
        normalize("+39 347 1234567", "XX")
    assert not isinstance(info.value, InvalidPhoneNumber)
    # Even with nothing to normalise, a bad setting fails loudly.
    with pytest.raises(ValueError, match="DEFAULT_REGION"):
        normalize_many([], "ITA")


def test_empty_region_means_no_region() -> None:
    assert normalize("+39 347 1234567", "") == IT_MOBILE
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize("347 123 4567", "")
    assert info.value.code == "no_country_code"


def test_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="str"):
        normalize(393471234567)  # type: ignore[arg-type]


# normalize_many ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raws", "region", "numbers", "error_raws"),
    [
        # Duplicates written differently collapse to one number, first-seen order kept.
        (
            ["347 123 4567", "+39 347 1234567", "0039 3471234567", "(650) 253-0000"],
            "IT",
            [IT_MOBILE],
            ["(650) 253-0000"],  # national US format is not valid with region IT
        ),
        (
            ["+1 650 253 0000", "347 123 4567", "001 650 253 0000", "+39 347 1234567"],
            "IT",
            [US_NUMBER, IT_MOBILE],
            [],
        ),
        # One string with comma, semicolon and newline (also CRLF) separators.
        (
            "347 123 4567; +39 347 1234567\n+1 650 253 0000,0039 347 1234567\r\n+44 7911 123456",
            "IT",
            [IT_MOBILE, US_NUMBER, "+447911123456"],
            [],
        ),
        # Every error is reported, in input order, with surrounding spaces trimmed.
        (
            "abc, +39 347 1234567 ; 123\n3471234567 ext. 9, 123",
            "IT",
            [IT_MOBILE],
            ["abc", "123", "3471234567 ext. 9", "123"],
        ),
        # Blank entries (trailing or doubled separators, empty form rows) are skipped.
        ("+39 347 1234567,,;\n\n", None, [IT_MOBILE], []),
        (["", "   ", "+39 347 1234567"], None, [IT_MOBILE], []),
        ("", None, [], []),
        ([], "IT", [], []),
        # Without a region, national numbers are errors, international ones fine.
        (["347 123 4567", "+39 347 1234567"], None, [IT_MOBILE], ["347 123 4567"]),
        # A tuple or a generator works like a list.
        (("+39 347 1234567", "+39 347 1234567"), None, [IT_MOBILE], []),
        ((n for n in ["+1 650 253 0000"]), None, [US_NUMBER], []),
    ],
)
def test_normalize_many(
    raws: list[str] | str, region: str | None, numbers: list[str], error_raws: list[str]
) -> None:
    got_numbers, errors = normalize_many(raws, region)
    assert got_numbers == numbers
    assert [error.raw for error in errors] == error_raws
    assert all(isinstance(error, InvalidPhoneNumber) for error in errors)


def test_normalize_many_errors_carry_codes_and_messages() -> None:
    _, errors = normalize_many(["abc", "3471234567", "+39 123", "+39 347 1234567 x5"])
    assert [error.code for error in errors] == [
        "not_a_number",
        "no_country_code",
        "invalid",
        "extension",
    ]
    assert "DEFAULT_REGION" in str(errors[1])


def test_normalize_many_list_items_are_not_split() -> None:
    # In a list each item is one number: a comma inside an item is an error, not two numbers.
    item = "+39 347 1234567, +1 650 253 0000"
    numbers, errors = normalize_many([item])
    assert numbers == []
    assert [error.raw for error in errors] == [item]


def test_remembering_checks_each_distinct_number_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Within ``remembering()`` a repeat is answered from memory: the same number, or a
    new error with the same raw text, message and code; outside it every call checks."""
    calls: list[str] = []
    real = phone._normalize

    def counting(raw: str, region: str | None) -> str:
        calls.append(raw)
        return real(raw, region)

    monkeypatch.setattr(phone, "_normalize", counting)
    with phone.remembering():
        assert [normalize("+39 347 123 4567") for _ in range(3)] == ["+393471234567"] * 3
        errors = []
        for _ in range(2):
            with pytest.raises(InvalidPhoneNumber) as info:
                normalize("+39 123")
            errors.append(info.value)
        assert normalize("347 123 4567", "IT") == "+393471234567"
    assert calls == ["+39 347 123 4567", "+39 123", "347 123 4567"]
    assert errors[0] is not errors[1]
    assert [(e.raw, e.message, e.code) for e in errors] == [
        ("+39 123", errors[0].message, errors[0].code)
    ] * 2
    normalize("+39 347 123 4567")
    assert calls[-1] == "+39 347 123 4567" and len(calls) == 4  # the memory ended
