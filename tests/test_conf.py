"""The settings helper: defaults, brand presets, and errors that name the key to fix."""

import copy

import pytest

from django_smsrest.conf import BRANDS, build_settings, is_loopback_host, validate_base_url
from django_smsrest.exceptions import SmsRestConfigurationError
from django_smsrest.secret import Secret


def test_defaults_come_from_the_brand():
    conf = build_settings({"BRAND": "skebby"})
    assert conf.base_url == BRANDS["skebby"].base_url
    assert conf.default_message_type == "GP"
    assert set(conf.message_types) == {"GP", "TI", "SI"}
    assert build_settings(None).default_message_type == "N"


def test_password_is_not_in_repr():
    conf = build_settings({"USERNAME": "u", "PASSWORD": "hunter2-secret"})
    assert "hunter2-secret" not in repr(conf)


def test_password_is_held_as_a_secret():
    conf = build_settings({"USERNAME": "u", "PASSWORD": "hunter2-secret"})
    secret = conf.password
    assert isinstance(secret, Secret) and secret.reveal() == "hunter2-secret"
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r:>40}", repr([secret])):
        assert "hunter2" not in text
    assert secret == "hunter2-secret" and secret == Secret("hunter2-secret")
    assert secret != "other" and bool(secret) and not Secret("") and not Secret(None)
    assert copy.deepcopy(secret) == secret and Secret(secret) == secret
    assert build_settings({"PASSWORD": Secret("x")}).password.reveal() == "x"
    with pytest.raises(SmsRestConfigurationError, match="PASSWORD"):
        build_settings({"PASSWORD": 1234})


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"BRAND": "nope"}, "BRAND"),
        ({"AUTH": "basic"}, "AUTH"),
        ({"DEFAULT_MESSAGE_TYPE": "GP"}, "DEFAULT_MESSAGE_TYPE"),  # smsend has N/L/LL
        ({"TIMEOUT": -1}, "TIMEOUT"),
        ({"TIMEOUT": (1, 2, 3)}, "TIMEOUT"),
        ({"BASE_URL": "http://gateway.example.com/API/"}, "BASE_URL"),
        ({"BASE_URL": "ftp://x/"}, "BASE_URL"),
        ({"MAX_RECIPIENTS_PER_ORDER": 0}, "MAX_RECIPIENTS_PER_ORDER"),
        ({"LOW_CREDIT_THRESHOLD": -5}, "LOW_CREDIT_THRESHOLD"),
    ],
)
def test_bad_values_name_the_key(raw, key):
    with pytest.raises(SmsRestConfigurationError, match=rf"SMSREST\['{key}'\]"):
        build_settings(raw)


def test_unknown_key_is_an_error_that_lists_it():
    with pytest.raises(SmsRestConfigurationError, match="PASWORD"):
        build_settings({"PASWORD": "x"})


def test_credentials_required_only_when_asked():
    build_settings({})
    with pytest.raises(SmsRestConfigurationError, match=r"SMSREST\['USERNAME'\]"):
        build_settings({}, require_credentials=True)
    with pytest.raises(SmsRestConfigurationError, match=r"SMSREST\['PASSWORD'\]"):
        build_settings({"USERNAME": "u"}, require_credentials=True)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8765/API/v1.0/REST/", True),
        ("http://localhost:8765/API/v1.0/REST", True),
        ("http://[::1]:8765/", True),
        ("https://api.skebby.it/API/v1.0/REST/", True),
        ("http://10.0.0.5/API/", False),
        ("http://api.skebby.it/API/v1.0/REST/", False),
    ],
)
def test_plain_http_only_to_loopback(url, ok):
    if ok:
        assert validate_base_url(url).endswith("/")
    else:
        with pytest.raises(SmsRestConfigurationError, match="https"):
            validate_base_url(url)


def test_loopback_detection():
    assert is_loopback_host("127.0.0.2")
    assert not is_loopback_host("127.example.com")
    assert not is_loopback_host(None)


def test_lease_defaults_to_outlast_the_http_exchange():
    conf = build_settings({"TIMEOUT": (3, 10)})
    assert conf.lease_seconds > 2 * (3 + 10)
