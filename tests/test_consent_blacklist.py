"""Issue 23 item 4: the gateway's SMS blacklist both ways.

* the client's three calls with HTTP mocked by ``responses`` (request shapes, tolerant
  parsing of the undocumented items);
* ``send_sms --sync-blacklist`` against the sandbox over a real socket: the pull keeps
  the origin (STOPSMS included), the push sends local suppressions, a second run changes
  nothing, an interrupted push resumes;
* a ``BLACKLISTED`` delivery state suppresses the number.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import responses
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings

import django_smsrest
from django_smsrest import services
from django_smsrest.backends import locmem, rest
from django_smsrest.client import SmsRestClient
from django_smsrest.exceptions import GatewayRejected
from django_smsrest.models import BlacklistCheckpoint, Suppression
from django_smsrest.services import blacklist as sync_module
from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.settings import SMSREST
from tests.test_sandbox_helpers import control

BASE = "https://api.example.test/API/v1.0/REST/"
ROME = ZoneInfo("Europe/Rome")
A, B, C = "+393471234567", "+393471234568", "+393471234569"


# --- the client ---------------------------------------------------------------------------


@pytest.fixture
def gw() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, BASE + "login", body="UK;SK", content_type="text/plain")
        yield mock


@pytest.fixture
def client() -> Iterator[SmsRestClient]:
    c = SmsRestClient(BASE, "user", "Pa55-w0rd-S3CRET")
    yield c
    c.close()


def _last(gw: responses.RequestsMock, path: str) -> Any:
    return [c for c in gw.calls if urlsplit(c.request.url).path.endswith(path)][-1].request


def test_get_blacklist_sends_the_documented_filters_and_reads_a_page(
    gw: responses.RequestsMock, client: SmsRestClient
) -> None:
    gw.add(
        responses.GET,
        BASE + "blacklist/sms",
        json={
            "total": 3,
            "blacklist": [
                {"phoneNumber": A, "origin": "STOPSMS", "insertDate": "2026-12-01 10:00:00"},
                {"number": "393471234568", "source": "web"},
                {"nothing": "here"},
            ],
        },
    )
    page = client.get_blacklist(
        page=2,
        page_size=50,
        date_from=datetime(2026, 12, 1, 9, 0, tzinfo=ROME),
        number="347",
        origins=["stopsms", "WEB"],
    )
    query = parse_qs(urlsplit(_last(gw, "blacklist/sms").url).query)
    assert query == {
        "pageNumber": ["2"],
        "pageSize": ["50"],
        "timezone": ["Europe/Rome"],
        "from": ["2026-12-01 09:00:00"],
        "number": ["347"],
        "origins": ["STOPSMS,WEB"],
    }
    assert page.total == 3 and len(page.entries) == 2  # the unreadable item is skipped
    first, second = page.entries
    assert (first.number, first.origin) == (A, "STOPSMS")
    assert first.added_at == datetime(2026, 12, 1, 10, 0, tzinfo=ROME)
    assert (second.number, second.origin, second.added_at) == ("393471234568", "WEB", None)


def test_get_blacklist_refuses_an_unknown_origin_before_any_request(
    client: SmsRestClient,
) -> None:
    with pytest.raises(ValueError, match="origins"):
        client.get_blacklist(origins=["SPAM"])


def test_add_one_in_the_query_and_many_as_a_json_array(
    gw: responses.RequestsMock, client: SmsRestClient
) -> None:
    gw.add(responses.POST, BASE + "blacklist/sms", json={"result": "OK"})
    gw.add(responses.POST, BASE + "blacklist/smsbatch", body="2")
    client.add_to_blacklist(A)
    request = _last(gw, "blacklist/sms")
    assert parse_qs(urlsplit(request.url).query) == {"phoneNumber": [A]}
    assert client.add_many_to_blacklist([A, B]) == 2
    assert json.loads(_last(gw, "blacklist/smsbatch").body) == [A, B]


def test_a_refused_batch_is_gateway_rejected(
    gw: responses.RequestsMock, client: SmsRestClient
) -> None:
    gw.add(
        responses.POST,
        BASE + "blacklist/smsbatch",
        status=400,
        json={"result": "KO", "error_message": "invalid number"},
    )
    with pytest.raises(GatewayRejected):
        client.add_many_to_blacklist([A, "+1"])


# --- the sync over a real socket ----------------------------------------------------------


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


def _gateway_list(sandbox: SandboxServer) -> dict[str, str]:
    return {e["phoneNumber"]: e["origin"] for e in sandbox.snapshot()["blacklist"]}


@pytest.mark.django_db(transaction=True)
def test_sync_both_ways_with_the_sandbox_is_idempotent(sandbox: SandboxServer) -> None:
    for number, origin in ((A, "STOPSMS"), (B, "WEB")):
        assert control(sandbox, "blacklist", {"phoneNumber": number, "origin": origin}).ok
    django_smsrest.suppress(C, reason="asked at the counter")

    out = io.StringIO()
    call_command("send_sms", "--sync-blacklist", stdout=out)
    assert out.getvalue().splitlines() == [
        "Blacklist synced with the gateway:",
        "  pulled:   2 entries read, 2 new on the suppression list",
        "  pushed:   1 local suppressions sent to the gateway",
    ]
    rows = {s.phone_number: s for s in Suppression.objects.all()}
    assert {n: r.origin for n, r in rows.items()} == {A: "STOPSMS", B: "WEB", C: "LOCAL"}
    assert all(r.synced_at is not None for r in rows.values())
    assert _gateway_list(sandbox) == {A: "STOPSMS", B: "WEB", C: "API"}

    again = services.sync_blacklist()
    assert (again.added, again.pushed, again.refused) == (0, 0, [])
    assert Suppression.objects.count() == 3 and len(_gateway_list(sandbox)) == 3
    assert again.pulled == 3  # asked from the checkpoint, minus the overlap: all recent
    mark = BlacklistCheckpoint.objects.get()
    newest = max(e["insertDate"] for e in sandbox.snapshot()["blacklist"][:2])
    assert mark.pulled_until.astimezone(ROME).strftime("%Y-%m-%d %H:%M:%S") == newest


@pytest.mark.django_db(transaction=True)
def test_a_refused_batch_is_pushed_one_by_one_and_the_refused_number_waits(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in (A, B, C):
        django_smsrest.suppress(number)
    real = rest.RestBackend.add_to_blacklist

    def refuse_b(self: Any, batch: Any) -> None:
        if B in batch:
            raise GatewayRejected("invalid number", status_code=400)
        real(self, batch)

    monkeypatch.setattr(rest.RestBackend, "add_to_blacklist", refuse_b)
    report = services.sync_blacklist(pull=False)
    assert (report.pushed, report.refused) == (2, [B])
    assert set(_gateway_list(sandbox)) == {A, C}
    assert list(
        Suppression.objects.filter(synced_at__isnull=True).values_list("phone_number", flat=True)
    ) == [B]


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_push_resumes_where_it_stopped(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "PUSH_BATCH", 2)
    numbers = [f"+39347123{i:04d}" for i in range(5)]
    for number in numbers:
        django_smsrest.suppress(number)
    real = rest.RestBackend.add_to_blacklist
    calls = {"n": 0}

    def fail_second(self: Any, batch: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("network down")
        real(self, batch)

    monkeypatch.setattr(rest.RestBackend, "add_to_blacklist", fail_second)
    with pytest.raises(ConnectionError):
        services.sync_blacklist(pull=False)
    assert len(_gateway_list(sandbox)) == 2
    assert Suppression.objects.filter(synced_at__isnull=True).count() == 3

    monkeypatch.setattr(rest.RestBackend, "add_to_blacklist", real)
    report = services.sync_blacklist(pull=False)
    assert report.pushed == 3
    assert set(_gateway_list(sandbox)) == set(numbers)
    # The first batch was not pushed again: 2 + 2 numbers in batches, the last one alone.
    requests = sandbox.snapshot()["requests"]
    assert (requests["POST blacklist/smsbatch"], requests["POST blacklist/sms"]) == (2, 1)


@pytest.mark.django_db(transaction=True)
def test_the_sweep_syncs_when_enabled(sandbox: SandboxServer) -> None:
    assert control(sandbox, "blacklist", {"phoneNumber": A, "origin": "STOPSMS"}).ok
    cache.delete(sync_module_key())
    services.sweep()
    assert not Suppression.objects.exists()  # off by default
    from django.conf import settings

    with override_settings(SMSREST={**settings.SMSREST, "SYNC_BLACKLIST": True}):
        report = services.sweep()
    assert report.errors == 0
    assert Suppression.objects.get().origin == "STOPSMS"
    cache.delete(sync_module_key())


def sync_module_key() -> str:
    from django_smsrest.services import upkeep

    return upkeep.SYNC_KEY


# --- BLACKLISTED delivery state -----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("clean_gateway")
def test_a_blacklisted_delivery_state_suppresses_the_number() -> None:
    msg = services.send_sms("Hi", [A, B])
    locmem.set_delivery_state("BLACKLISTED", to=A)
    locmem.set_delivery_state("DLVRD", to=B)
    services.refresh_status(msg)
    row = Suppression.objects.get()
    assert (row.phone_number, row.origin) == (A, "DELIVERY")
    # The next marketing message skips A.
    services.send_sms("Promo", [A, B], purpose="marketing")
    assert locmem.outbox[-1].recipients == (B,)


@pytest.mark.django_db(transaction=True)
def test_a_blacklisted_delivery_report_from_the_sandbox_suppresses(
    sandbox: SandboxServer,
) -> None:
    """End to end over the socket: the sandbox's scripted number ending 0002 is in the
    gateway's blacklist and ends BLACKLISTED; the poll records it and suppresses it."""
    stopped = "+393470000002"
    msg = services.send_sms("Ciao", [A, stopped])
    sandbox.advance(60)
    services.refresh_status(msg)
    row = Suppression.objects.get()
    assert (row.phone_number, row.origin) == (stopped, "DELIVERY")
    promo = services.send_sms("Saldi", [A, stopped], purpose="marketing")
    assert promo.total_sent == 1
    assert dict(promo.recipients.values_list("phone_number", "state"))[stopped] == "SUPPRESSED"
