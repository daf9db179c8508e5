"""Issue 23 item 3: a received SMS whose text is a stop word (``SMSREST["STOP_WORDS"]``,
case and accents ignored) suppresses its sender and fires ``opted_out``; end to end over
a real socket with the sandbox's inbound."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from django_smsrest import services, signals
from django_smsrest.backends import rest
from django_smsrest.models import ReceivedSms, Suppression
from django_smsrest.services.consent import handle_stop_reply, is_stop_word
from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.settings import SMSREST
from tests.test_sandbox_helpers import control

A = "+393331112223"


@pytest.mark.parametrize(
    "text", ["STOP", "stop", " Stop. ", "ANNULLA", "cancellà!", "CANCELLAMI", "Unsubscribe"]
)
def test_stop_words_case_accents_and_punctuation(text: str, settings: Any) -> None:
    assert is_stop_word(text)


@pytest.mark.parametrize("text", ["Stop calling me", "ok", "", "STOPPED", "annullare"])
def test_other_texts_are_not_stop_words(text: str, settings: Any) -> None:
    assert not is_stop_word(text)


def test_configurable_stop_words(settings: Any) -> None:
    settings.SMSREST = {**SMSREST, "STOP_WORDS": ["Basta così"]}
    assert is_stop_word("BASTA COSI")
    assert not is_stop_word("STOP")


@pytest.mark.django_db
def test_an_alias_sender_cannot_opt_out() -> None:
    row = ReceivedSms(gateway_id="1", sender="MyShop", text="STOP")
    assert handle_stop_reply(row) is None
    assert not Suppression.objects.exists()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    rest.reset_clients()
    with run_sandbox() as server:
        conf = {
            **SMSREST,
            **server.smsrest_settings(),
            "BACKEND": "django_smsrest.backends.rest.RestBackend",
            "TIMEOUT": (2.0, 5.0),
        }
        with override_settings(SMSREST=conf):
            yield server
    rest.reset_clients()


@pytest.mark.django_db(transaction=True)
def test_stop_reply_end_to_end_with_the_sandbox(sandbox: SandboxServer) -> None:
    calls: list[dict[str, Any]] = []

    def record(sender: Any, signal: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    for sender, text in ((A, "Stop"), ("+393339998887", "Grazie, a domani")):
        response = control(
            sandbox, "inbound", {"sender": sender, "text": text, "id_sim": "+393400000007"}
        )
        assert response.status_code == 201, response.text
    signals.opted_out.connect(record, weak=False)
    try:
        report = services.receive_sms()
    finally:
        signals.opted_out.disconnect(record)
    assert report.stored == 2
    row = Suppression.objects.get()
    assert row.phone_number == A and row.origin == "STOP_REPLY"
    assert "Stop" in row.reason
    assert calls == [{"number": A, "origin": "STOP_REPLY", "reason": row.reason}]
    # From now on marketing skips that number; a code still reaches it.
    promo = services.send_sms("Saldi!", [A, "+393339998887"], purpose="marketing")
    assert promo.total_sent == 1
    code = services.send_sms("Codice 123456", [A])
    assert code.total_sent == 1
