"""Input that used to slip through or crash: each is refused with a ValidationError that
names the field, and nothing is written (issue: keep every promise at the edges)."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.models import SmsMessage

pytestmark = pytest.mark.django_db

NUMBER = "+393471234567"


@pytest.fixture(autouse=True)
def _gateway():
    locmem.reset()
    yield
    locmem.reset()


def _refused(field: str, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        services.send_sms(*args, **kwargs)
    assert not SmsMessage.objects.exists()
    assert locmem.outbox == []
    assert field in caught.value.message_dict, caught.value.message_dict
    return " ".join(caught.value.message_dict[field])


def test_a_float_phone_number_is_refused_not_changed() -> None:
    text = _refused("recipients", "x", [393471234567.0])
    assert "393471234567.0" in text and "float" in text


@pytest.mark.parametrize("bad", [None, ["+39347"], b"+393471234567", True])
def test_other_non_text_numbers_are_refused(bad: Any) -> None:
    _refused("recipients", "x", [NUMBER, bad])


def test_an_int_number_is_still_its_digits() -> None:
    msg = services.send_sms("x", [393471234567])
    assert list(msg.recipients.values_list("phone_number", flat=True)) == [NUMBER]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ciao\x00", "U+0000"),
        ("ciao\ud800", "U+D800"),
        ("bell\x07", "U+0007"),
    ],
)
def test_control_characters_and_lone_surrogates_are_refused(text: str, expected: str) -> None:
    assert expected in _refused("message", text, [NUMBER])


def test_line_breaks_and_tabs_are_fine() -> None:
    assert services.send_sms("a\nb\r\nc\td", [NUMBER]).status == "sent"


@pytest.mark.parametrize("text", ["\u200b", "\ufeff", " \u200d\u200c\u2060 ", "\u200e\n"])
def test_text_made_only_of_invisible_characters_is_empty(text: str) -> None:
    assert "empty" in _refused("message", text, [NUMBER])


def test_a_number_as_the_message_is_not_called_empty() -> None:
    text = _refused("message", 42, [NUMBER])
    assert "must be text, not int" in text


def test_a_message_type_that_is_not_a_code_is_refused() -> None:
    text = _refused("message_type", "x", [NUMBER], message_type=["N"])
    assert "type code" in text


@pytest.mark.parametrize(
    "when",
    [
        datetime(9999, 12, 31, 23, 0, tzinfo=ZoneInfo("UTC")),
        datetime.fromisoformat("9999-12-31T20:00-12:00"),  # past year 9999 in UTC
        lambda: timezone.now() + timedelta(days=367),
    ],
)
def test_a_schedule_beyond_the_horizon_is_refused(when: Any) -> None:
    when = when() if callable(when) else when
    text = _refused("scheduled_delivery_time", "x", [NUMBER], scheduled_delivery_time=when)
    assert "too far ahead" in text and "366 days" in text


def test_a_schedule_within_the_horizon_is_kept() -> None:
    when = timezone.now() + timedelta(days=365)
    assert services.send_sms("x", [NUMBER], scheduled_delivery_time=when).status == "scheduled"


def test_the_command_refuses_a_far_schedule_with_exit_2() -> None:
    with pytest.raises(CommandError) as caught:
        call_command("send_sms", "--to", NUMBER, "--at", "9999-12-31T20:00-12:00", "hi")
    assert caught.value.returncode == 2
    assert "too far ahead" in str(caught.value)
    assert not SmsMessage.objects.exists()


def test_invalid_utf8_in_argv_exits_2_with_a_message(tmp_path: Any) -> None:
    """argv bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape)."""
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    script = (
        "import django, sys; django.setup();"
        "from django.core.management import execute_from_command_line;"
        "from django.core.management import call_command;"
        "call_command('migrate', verbosity=0);"
        "execute_from_command_line(['manage.py', 'send_sms', '--to', '+393471234567', "
        "sys.argv[1]])"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(repo),
        "SMSREST_TEST_DB": "sqlite",
        "LC_ALL": "C.UTF-8",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, b"caf\xe9"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2, err
    assert "U+DCE9" in err and "Traceback" not in err


def test_stdin_that_is_not_utf8_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe"), encoding="utf-8"))
    with pytest.raises(CommandError) as caught:
        call_command("send_sms", "--to", NUMBER, "-")
    assert caught.value.returncode == 2
    assert not SmsMessage.objects.exists()
