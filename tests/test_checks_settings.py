"""``manage.py check`` validates every ``SMSREST`` value (issue 13 item 7) and reports every
problem at once, each naming its key; missing credentials are a deploy check only, so
``migrate`` runs without them (issue 17 item 1), while the REST backend refuses to start
without them with an error naming the keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from django_smsrest.backends.rest import RestBackend
from django_smsrest.checks import check_credentials, check_settings
from django_smsrest.conf import build_settings, get_settings, settings_problems
from django_smsrest.exceptions import MissingCredentials, SmsRestConfigurationError
from tests.reliability import REPO, worker_env

LOCMEM = "django_smsrest.backends.locmem.LocmemBackend"
REST = "django_smsrest.backends.rest.RestBackend"


def ids_and_texts(smsrest: dict) -> list[tuple[str, str]]:
    with override_settings(SMSREST=smsrest):
        return [(m.id, m.msg) for m in check_settings()]


def only(messages: list[tuple[str, str]], key: str) -> tuple[str, str]:
    named = [m for m in messages if f"SMSREST[{key!r}]" in m[1]]
    assert len(named) == 1, messages
    return named[0]


@pytest.mark.parametrize(
    ("key", "value", "check_id", "words"),
    [
        ("GATEWAY_TIMEZONE", "Europe/Roma", "django_smsrest.E001", "Europe/Roma"),
        ("VERIFY_TLS", "/nonexistent/ca.pem", "django_smsrest.E005", "does not exist"),
        ("VERIFY_TLS", 3, "django_smsrest.E001", "CA bundle"),
        ("BACKEND", "django_smsrest.backends.nope.Nope", "django_smsrest.E006", "imported"),
        ("BACKEND", "django_smsrest.conf.Brand", "django_smsrest.E006", "BaseBackend"),
        ("TASK_BACKEND", "celery", "django_smsrest.E007", "TASKS"),
        ("TASK_QUEUE", "sms", "django_smsrest.E008", "QUEUES"),
        ("MAX_ATTEMPTS", 1.5, "django_smsrest.E001", "whole number"),
        ("MAX_ATTEMPTS", "8", "django_smsrest.E001", "integer"),
        ("MAX_ATTEMPTS", 0, "django_smsrest.E001", "at least 1"),
        ("MAX_SEGMENTS", True, "django_smsrest.E001", "integer"),
        ("MAX_RECIPIENTS_PER_ORDER", -3, "django_smsrest.E001", "at least 1"),
        ("TASK_PRIORITY", 1000, "django_smsrest.E001", "between -100 and 100"),
        ("TASK_PRIORITY", 0.5, "django_smsrest.E001", "whole number"),
        ("LOW_CREDIT_THRESHOLD", -1, "django_smsrest.E001", "at least 0"),
        ("RETRY_BASE_SECONDS", -30, "django_smsrest.E001", "positive"),
        ("RETRY_MAX_SECONDS", float("nan"), "django_smsrest.E001", "positive"),
        ("LEASE_SECONDS", "60", "django_smsrest.E001", "positive"),
        ("STATUS_POLL_BASE_SECONDS", 0, "django_smsrest.E001", "positive"),
        ("USERNAME", 42, "django_smsrest.E001", "string"),
        ("DEFAULT_REGION", "ITA", "django_smsrest.E001", "two-letter"),
        ("CACHE", "nope", "django_smsrest.E004", "nope"),
        ("PASWORD", "x", "django_smsrest.E001", "did you mean 'PASSWORD'"),
    ],
)
def test_each_wrong_value_is_one_message_naming_its_key(key, value, check_id, words):
    smsrest = {"BACKEND": LOCMEM, key: value}
    messages = ids_and_texts(smsrest)
    found_id, text = only(messages, key)
    assert found_id == check_id and words in text, messages


def test_every_problem_is_reported_at_once():
    messages = ids_and_texts(
        {
            "BACKEND": "no.such.Backend",
            "GATEWAY_TIMEZONE": "Europe/Roma",
            "VERIFY_TLS": "/nonexistent/ca.pem",
            "TASK_BACKEND": "celery",
            "MAX_ATTEMPTS": 1.5,
            "RETRY_BASE_SECONDS": -1,
            "TIMEOUT": (1, 2, 3),
        }
    )
    keys = {
        "BACKEND",
        "GATEWAY_TIMEZONE",
        "VERIFY_TLS",
        "TASK_BACKEND",
        "MAX_ATTEMPTS",
        "RETRY_BASE_SECONDS",
        "TIMEOUT",
    }
    for key in keys:
        only(messages, key)
    assert len(messages) == len(keys)
    # And the error build_settings raises lists them all too, one problem per key.
    with pytest.raises(SmsRestConfigurationError) as info:
        build_settings({"GATEWAY_TIMEZONE": "Europe/Roma", "MAX_ATTEMPTS": 1.5, "AUTH": "x"})
    assert {p.key for p in info.value.problems} == {"GATEWAY_TIMEZONE", "MAX_ATTEMPTS", "AUTH"}
    assert "3 problems" in str(info.value) and "Europe/Roma" in str(info.value)


def test_a_valid_configuration_has_no_message():
    assert ids_and_texts({"BACKEND": LOCMEM, "VERIFY_TLS": __file__}) == []
    assert settings_problems({"MAX_ATTEMPTS": 3, "TASK_PRIORITY": -100}) == []


def test_task_queue_listed_by_the_task_backend_is_accepted(settings):
    backend = settings.TASKS["default"]["BACKEND"]
    settings.TASKS = {"default": {"BACKEND": backend, "QUEUES": ["default", "sms"]}}
    assert ids_and_texts({"BACKEND": LOCMEM, "TASK_QUEUE": "sms"}) == []


def test_missing_credentials_are_a_deploy_check_only():
    smsrest = {"BACKEND": REST, "USERNAME": "", "PASSWORD": ""}
    with override_settings(SMSREST=smsrest):
        assert not [m for m in run_checks() if m.id.startswith("django_smsrest.")]
        deploy = [
            m
            for m in run_checks(include_deployment_checks=True)
            if m.id.startswith("django_smsrest.")
        ]
        assert [m.id for m in deploy] == ["django_smsrest.E002"]
        assert "SMSREST['USERNAME'] and SMSREST['PASSWORD'] are not set" in deploy[0].msg
    with override_settings(SMSREST={"BACKEND": LOCMEM, "USERNAME": ""}):
        assert check_credentials() == []  # locmem sends nothing


def test_the_rest_backend_refuses_to_start_without_credentials():
    smsrest = {"BACKEND": REST, "USERNAME": "acme", "PASSWORD": ""}
    with override_settings(SMSREST=smsrest), pytest.raises(MissingCredentials) as info:
        RestBackend(get_settings())
    assert isinstance(info.value, SmsRestConfigurationError)
    assert "SMSREST['PASSWORD'] is not set" in str(info.value)
    assert info.value.missing == ["PASSWORD"]


def test_migrate_runs_without_credentials(tmp_path: Path):
    env = worker_env(f"sqlite:{tmp_path / 'db.sqlite3'}", {"USERNAME": "", "PASSWORD": ""})
    done = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    deploy = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "django_smsrest.E002" in deploy.stderr
    assert "SMSREST['USERNAME'] and SMSREST['PASSWORD']" in deploy.stderr


def test_use_tz_false_is_a_check_error_naming_the_setting():
    """Issue 20 item 7: with ``USE_TZ=False`` an aware schedule met a naive ``now`` in
    validation and raised a bare ``TypeError``; ``manage.py check`` now says the app needs
    ``USE_TZ = True``, and validation raises an error naming it instead of a TypeError."""
    from datetime import timedelta

    from django.core.exceptions import ImproperlyConfigured
    from django.utils import timezone

    from django_smsrest.validation import validate_sms

    with override_settings(USE_TZ=False, SMSREST={"BACKEND": LOCMEM}):
        errors = [m for m in run_checks() if m.id.startswith("django_smsrest.")]
        assert [m.id for m in errors] == ["django_smsrest.E010"], errors
        assert "USE_TZ = True" in errors[0].msg and errors[0].is_serious()
        when = timezone.make_aware(timezone.now() + timedelta(hours=1))
        with pytest.raises(ImproperlyConfigured, match="USE_TZ"):
            validate_sms("Ciao", ["+393471234567"], scheduled_delivery_time=when)
    with override_settings(USE_TZ=True, SMSREST={"BACKEND": LOCMEM}):
        assert not [m for m in run_checks() if m.id == "django_smsrest.E010"]
