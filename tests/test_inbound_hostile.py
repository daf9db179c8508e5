"""Received SMS as an attacker (or a broken gateway) would send them.

One page holds two good messages and one hostile item: a date in year 1, an epoch of 1e20,
Infinity, NaN, a lone surrogate or a NUL in the text, JSON nested 10,000 deep (deeper
than the json module of any supported Python reads). On main each made ``receive_sms``
raise (the good messages of the page were consumed by the cursor and every later poll
raised again), or, on SQLite, a NaN silently dropped the item while the
checkpoint moved on. Now: every good item is stored, the bad one is kept raw with the
reason (:class:`~django_smsrest.models.QuarantinedSms`, counted in the report and the
command's output, visible in the admin), the checkpoint advances, and the next poll goes
on without storing or quarantining anything twice. The gateway is mocked with
``responses`` (the bodies are raw text: NaN and deep nesting are not what ``json=`` makes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import responses
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import rest
from django_smsrest.client import inbound as client_inbound
from django_smsrest.models import QuarantinedSms, ReceiveCheckpoint, ReceivedSms
from tests.test_services_rest import BASE, REST_SETTINGS

pytestmark = pytest.mark.django_db(transaction=True)

GOOD_1 = {
    "id": "g1",
    "phoneNumber": "+393331112223",
    "text": "Ciao",
    "receivedDate": "20260101120000",
}
GOOD_2 = {**GOOD_1, "id": "g2", "text": "Si", "receivedDate": "20260101120500"}


def _bad(**fields: str) -> str:
    """A hostile item as raw JSON text: ``fields`` are inserted verbatim."""
    base = '{"id": "bad", "phoneNumber": "+393331112225"'
    return base + "".join(f', "{k}": {v}' for k, v in fields.items()) + "}"


HOSTILE = {
    "year 1": (_bad(text='"x"', receivedDate='"00010101000000"'), "date"),
    "epoch 1e20": (_bad(text='"x"', receivedDate="1e20"), "date"),
    "Infinity": (_bad(text='"x"', receivedDate="Infinity"), "NaN or Infinity"),
    "NaN": (_bad(text='"x"', receivedDate="NaN"), "NaN or Infinity"),
    "lone surrogate": (_bad(text='"ciao \\ud800"', receivedDate='"20260101121000"'), "U+D800"),
    "NUL": (_bad(text='"ciao \\u0000 x"', receivedDate='"20260101121000"'), "U+0000"),
    "10,000 deep": (
        _bad(text='"x"', receivedDate='"20260101121000"', extra="[" * 10_000 + "]" * 10_000),
        "nested",
    ),
}


def _page(list_key: str, bad: str) -> str:
    items = ", ".join([json.dumps(GOOD_1), bad, json.dumps(GOOD_2)])
    return f'{{"result": "OK", "{list_key}": [{items}], "total": 3}}'


@pytest.fixture
def gateway() -> Iterator[responses.RequestsMock]:
    rest.reset_clients()
    client_inbound.reset_logged()
    with (
        override_settings(SMSREST=REST_SETTINGS),
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):
        mock.add(responses.GET, BASE + "login", body="USERKEY;SESSIONKEY", status=200)
        yield mock
    rest.reset_clients()


def _serve(gateway: responses.RequestsMock, bad: str) -> None:
    """The cursor returns the page once (then nothing); the history always has it."""
    gateway.add(responses.GET, BASE + "newsrsmsmessage", body=_page("messages", bad))
    gateway.add(responses.GET, BASE + "newsrsmsmessage", body='{"result": "OK", "messages": []}')
    gateway.add(responses.GET, BASE + "srsmshistory", body=_page("srsmshistory", bad))


@pytest.mark.parametrize("bad, reason", HOSTILE.values(), ids=HOSTILE)
def test_a_hostile_item_is_quarantined_and_the_good_ones_are_stored(
    gateway: responses.RequestsMock, bad: str, reason: str
) -> None:
    _serve(gateway, bad)
    before = timezone.now()

    first = services.receive_sms()

    assert sorted(ReceivedSms.objects.values_list("gateway_id", flat=True)) == ["g1", "g2"]
    assert first.stored == 2 and first.quarantined == 1
    (kept,) = QuarantinedSms.objects.all()
    # An item too deep to parse has no readable id: kept under a hash of its text.
    assert kept.gateway_id == ("" if reason == "nested" else "bad")
    assert kept.key.startswith("h:") if reason == "nested" else kept.key == "bad"
    assert reason in kept.reason
    assert kept.raw  # the item as it came, as text (readable, storable on any database)
    assert "\x00" not in kept.raw and "\x00" not in kept.reason
    # The checkpoint moved on: the poll completed.
    assert ReceiveCheckpoint.objects.get().covered_until >= before

    second = services.receive_sms()  # the history still has all three

    assert (second.stored, second.quarantined) == (0, 0)
    assert QuarantinedSms.objects.count() == 1 and ReceivedSms.objects.count() == 2


def test_the_command_counts_and_the_admin_shows_the_quarantined(
    gateway: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve(gateway, HOSTILE["NaN"][0])

    call_command("send_sms", "--receive")

    assert "quarantined: 1" in capsys.readouterr().out
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    listing = admin.get(reverse("admin:django_smsrest_quarantinedsms_changelist"))
    assert listing.status_code == 200
    assert "NaN or Infinity" in listing.content.decode()
    row = QuarantinedSms.objects.get()
    page = admin.get(reverse("admin:django_smsrest_quarantinedsms_change", args=[row.pk]))
    assert page.status_code == 200
    assert "receivedDate" in page.content.decode()


def test_an_item_the_database_drops_silently_is_quarantined_not_lost(
    gateway: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the reason a row was not inserted (SQLite's INSERT OR IGNORE also ignores a
    failed CHECK), an item that is neither inserted nor already there is quarantined."""
    from django_smsrest.services import inbound as service_inbound

    real = service_inbound._insert_rows

    def drop_g2(rows):  # what INSERT OR IGNORE did to a NaN on SQLite
        real([row for row in rows if row.gateway_id != "g2"])

    monkeypatch.setattr(service_inbound, "_insert_rows", drop_g2)
    page = {"result": "OK", "messages": [GOOD_1, GOOD_2]}
    gateway.add(responses.GET, BASE + "newsrsmsmessage", json=page)
    gateway.add(responses.GET, BASE + "srsmshistory", body='{"srsmshistory": []}')

    report = services.receive_sms()

    assert report.quarantined == 1
    kept = QuarantinedSms.objects.get(gateway_id="g2")
    assert "not stored by the database" in kept.reason


def test_a_nul_in_a_message_the_sandbox_received_over_a_real_socket() -> None:
    """End to end: the sandbox gateway (real HTTP) received three SMS, one with a NUL in
    its text; ``send_sms --receive`` stores two, quarantines one, twice in a row."""
    from django_smsrest.testing.sandbox import run_sandbox
    from tests.settings import SMSREST
    from tests.test_sandbox_helpers import control

    rest.reset_clients()
    with run_sandbox() as sandbox:
        conf = {
            **SMSREST,
            **sandbox.smsrest_settings(),
            "BACKEND": "django_smsrest.backends.rest.RestBackend",
        }
        for text in ("Ciao, confermo", "ciao\x00", "A domani"):
            answer = control(sandbox, "inbound", {"sender": "+393331112223", "text": text})
            assert answer.status_code == 201, answer.text
        with override_settings(SMSREST=conf):
            first = services.receive_sms()
            second = services.receive_sms()
    rest.reset_clients()
    assert (first.stored, first.quarantined) == (2, 1)
    assert (second.stored, second.quarantined) == (0, 0)
    assert sorted(ReceivedSms.objects.values_list("text", flat=True)) == [
        "A domani",
        "Ciao, confermo",
    ]
    kept = QuarantinedSms.objects.get()
    assert "U+0000" in kept.reason and "\\u0000" in kept.raw


def test_deep_nesting_beside_the_items_does_not_hide_them(
    gateway: responses.RequestsMock,
) -> None:
    """JSON nested 10,000 deep beside the list of messages (not in an item): the page is
    still read, its message stored, never a RecursionError."""
    deep = "[" * 10_000 + "]" * 10_000
    body = f'{{"result": "OK", "meta": {deep}, "messages": [{json.dumps(GOOD_1)}]}}'
    gateway.add(responses.GET, BASE + "newsrsmsmessage", body=body)
    gateway.add(responses.GET, BASE + "srsmshistory", body='{"srsmshistory": []}')

    report = services.receive_sms()

    assert (report.stored, report.quarantined) == (1, 0)
    assert ReceivedSms.objects.get().gateway_id == "g1"


def test_an_answer_too_deep_to_read_at_all_is_a_clear_error(
    gateway: responses.RequestsMock,
) -> None:
    """A page that is one deep structure (no list of items to split off): unreadable, and
    said as such (UnexpectedResponse), never a RecursionError."""
    from django_smsrest.exceptions import UnexpectedResponse

    body = '{"result": "OK", "data": {"x": ' + "[" * 10_000 + "]" * 10_000 + "}}"
    gateway.add(responses.GET, BASE + "newsrsmsmessage", body=body)

    with pytest.raises(UnexpectedResponse, match="not JSON"):
        services.receive_sms()
