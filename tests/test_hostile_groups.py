"""Contact group names with NUL, control characters or lone surrogates are refused like
message text: a clear ValidationError naming the characters, nothing stored, nothing sent
(on main they reached the gateway, or raised a raw DataError / UnicodeEncodeError)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.models import SmsMessage

pytestmark = pytest.mark.django_db

HOSTILE = {
    "NUL": ("clienti\x00", "U+0000"),
    "escape": ("clienti\x1b[2J", "U+001B"),
    "newline": ("clienti\nstaff", "U+000A"),
    "DEL": ("clienti\x7f", "U+007F"),
    "lone surrogate": ("clienti\ud800", "U+D800"),
}


@pytest.fixture(autouse=True)
def _groups():
    locmem.reset()
    locmem.set_groups({"clienti": ["+393471234567"]})
    yield
    locmem.reset()


@pytest.mark.parametrize("name, code", HOSTILE.values(), ids=HOSTILE)
@pytest.mark.parametrize("defer", [False, True])
def test_a_hostile_group_name_is_refused_and_nothing_is_stored(
    name: str, code: str, defer: bool
) -> None:
    with pytest.raises(ValidationError) as caught:
        services.send_sms("Ciao", groups=["staff", name], defer=defer)
    (error,) = caught.value.error_dict["groups"]
    assert error.code == "group_characters"
    text = str(error.message) % error.params
    assert code in text and "2" in text  # which characters, in which group
    assert name not in text  # the raw name (unprintable) is not echoed
    assert not SmsMessage.objects.exists()
    assert locmem.outbox == []


def test_the_command_refuses_it_with_exit_2_and_no_traceback() -> None:
    with pytest.raises(CommandError) as caught:
        call_command("send_sms", "--group", "clienti\x00", "Ciao")
    assert caught.value.returncode == 2
    assert "U+0000" in str(caught.value)
    assert not SmsMessage.objects.exists()


def test_ordinary_group_names_still_work() -> None:
    msg = services.send_sms("Ciao", groups=["clienti", "Clienti VIP à Roma"])
    assert msg.groups == ["clienti", "Clienti VIP à Roma"]
