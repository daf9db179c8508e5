"""client.inbound with HTTP mocked by ``responses``: the request shapes of
``newsrsmsmessage`` / ``srsmshistory`` and the defensive parsing of undocumented items."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import responses

from django_smsrest.client import SmsRestClient, inbound
from django_smsrest.exceptions import UnexpectedResponse

BASE = "https://api.example.test/API/v1.0/REST/"
ROME = ZoneInfo("Europe/Rome")


@pytest.fixture
def gw() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, BASE + "login", body="UK;SK", content_type="text/plain")
        yield mock


@pytest.fixture
def client() -> Iterator[SmsRestClient]:
    inbound.reset_logged()
    c = SmsRestClient(BASE, "user", "Pa55-w0rd-S3CRET")
    yield c
    c.close()


def _query(gw: responses.RequestsMock, path: str) -> dict[str, list[str]]:
    [call] = [c for c in gw.calls if urlsplit(c.request.url).path.endswith(path)]
    return parse_qs(urlsplit(call.request.url).query)


def test_new_messages_reads_the_sandbox_shape(
    gw: responses.RequestsMock, client: SmsRestClient
) -> None:
    item = {
        "id": "17",
        "id_sim": "+393400000000",
        "phoneNumber": "+393331112223",
        "text": "Ciao",
        "receivedDate": "20300102103000",
    }
    gw.add(responses.GET, BASE + "newsrsmsmessage", json={"result": "OK", "messages": [item]})

    [got] = inbound.get_new_received(client, limit=50)

    assert _query(gw, "newsrsmsmessage") == {"limit": ["50"]}
    assert (got.gateway_id, got.sender, got.sim, got.text) == (
        "17",
        "+393331112223",
        "+393400000000",
        "Ciao",
    )
    assert got.received_at == datetime(2030, 1, 2, 10, 30, tzinfo=ROME)
    assert got.raw == item and got.unread == ()


@pytest.mark.parametrize("limit", [0, 101])
def test_limit_is_1_to_100(client: SmsRestClient, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        inbound.get_new_received(client, limit=limit)


def test_other_candidate_names_and_a_bare_list_are_read(
    gw: responses.RequestsMock, client: SmsRestClient
) -> None:
    gw.add(
        responses.GET,
        BASE + "newsrsmsmessage",
        json=[
            {
                "message_id": 9,
                "sender": "+393331112223",
                "message": "Si",
                "date": "2030-01-02T09:30:00Z",
            }
        ],
    )

    [got] = inbound.get_new_received(client)

    assert (got.gateway_id, got.sender, got.text) == ("9", "+393331112223", "Si")
    assert got.received_at == datetime(2030, 1, 2, 9, 30, tzinfo=UTC)
    assert got.unread == ("sim",)


def test_what_cannot_be_read_is_logged_once_and_kept_raw(
    gw: responses.RequestsMock, client: SmsRestClient, caplog: pytest.LogCaptureFixture
) -> None:
    strange = {"uid": "x1", "body2": "?", "when": "yesterday", "receivedDate": "not a date"}
    for _ in range(2):
        gw.add(responses.GET, BASE + "newsrsmsmessage", json={"messages": [strange, strange]})

    with caplog.at_level(logging.WARNING, logger="django_smsrest.client"):
        first = inbound.get_new_received(client)
        second = inbound.get_new_received(client)

    assert [r.getMessage() for r in caplog.records if "could not read" in r.getMessage()] == [
        "GET newsrsmsmessage: could not read gateway_id, received_at, sender, sim, text in a "
        "received SMS (keys present: body2, receivedDate, uid, when); the raw JSON is kept on "
        "the row. Logged once per process."
    ]
    assert first[0].raw == strange and first[0].received_at is None
    # No id: a synthetic one, stable for the same content (so it is still stored once).
    assert first[0].gateway_id.startswith("h:")
    assert first[0].gateway_id == first[1].gateway_id == second[0].gateway_id


def test_a_result_other_than_ok_is_an_error(
    gw: responses.RequestsMock, client: SmsRestClient
) -> None:
    gw.add(responses.GET, BASE + "newsrsmsmessage", json={"result": "KO", "messages": []})
    with pytest.raises(UnexpectedResponse, match="'KO'"):
        inbound.get_new_received(client)


def test_an_html_page_is_an_error(gw: responses.RequestsMock, client: SmsRestClient) -> None:
    gw.add(responses.GET, BASE + "newsrsmsmessage", body="<html>maintenance</html>")
    with pytest.raises(UnexpectedResponse, match="HTML"):
        inbound.get_new_received(client)


def test_history_sends_the_dates_in_the_gateway_zone(
    gw: responses.RequestsMock, client: SmsRestClient
) -> None:
    gw.add(
        responses.GET,
        BASE + "srsmshistory",
        json={"total": 1, "srsmshistory": [{"id": "3", "phoneNumber": "+39333", "text": "x"}]},
    )

    page = inbound.get_received_history(
        client, datetime(2030, 1, 2, 9, 0, tzinfo=UTC), page=2, page_size=100
    )

    assert _query(gw, "srsmshistory") == {
        "from": ["20300102100000"],
        "timezone": ["Europe/Rome"],
        "pageNumber": ["2"],
        "pageSize": ["100"],
    }
    assert page.total == 1 and [i.gateway_id for i in page.items] == ["3"]
