"""Received SMS: ``newsrsmsmessage`` (a consuming cursor), ``srsmshistory`` (re-reads) and
``POST /_sandbox/inbound`` / the page's form (issue 14, item 6), over a real socket."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from django_smsrest.sandbox.inbound import DEFAULT_SIM
from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.test_sandbox_helpers import TIMEOUT, Api, control

ROME = ZoneInfo("Europe/Rome")
SIM_A, SIM_B = "+393400000001", "+393400000002"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox() as server:
        yield server


def _receive(
    sandbox: SandboxServer, text: str, sim: str = SIM_A, sender: str = "+39333111"
) -> None:
    response = control(sandbox, "inbound", {"sender": sender, "text": text, "id_sim": sim})
    assert response.status_code == 201, response.text


def _texts(response: requests.Response, key: str) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["text"] for item in response.json()[key]]


def test_new_messages_are_returned_once(sandbox: SandboxServer) -> None:
    api = Api(sandbox)
    _receive(sandbox, "one")
    _receive(sandbox, "two")

    first = api.get("newsrsmsmessage")
    second = api.get("newsrsmsmessage")
    _receive(sandbox, "three")
    third = api.get("newsrsmsmessage")

    assert _texts(first, "messages") == ["one", "two"]
    assert _texts(second, "messages") == []
    assert _texts(third, "messages") == ["three"]
    item = first.json()["messages"][0]
    assert set(item) == {"id", "id_sim", "phoneNumber", "text", "receivedDate"}
    assert item["id_sim"] == SIM_A and item["phoneNumber"] == "+39333111"
    received = datetime.strptime(item["receivedDate"], "%Y%m%d%H%M%S").replace(tzinfo=ROME)
    assert abs(received - datetime.now(ROME)) < timedelta(minutes=1)


def test_limit_leaves_the_rest_for_the_next_call(sandbox: SandboxServer) -> None:
    api = Api(sandbox)
    for n in range(5):
        _receive(sandbox, f"m{n}")

    assert _texts(api.get("newsrsmsmessage", params={"limit": "2"}), "messages") == ["m0", "m1"]
    assert _texts(api.get("newsrsmsmessage", params={"limit": "100"}), "messages") == [
        "m2",
        "m3",
        "m4",
    ]


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-1"])
def test_limit_must_be_1_to_100(sandbox: SandboxServer, limit: str) -> None:
    _receive(sandbox, "kept")
    api = Api(sandbox)

    response = api.get("newsrsmsmessage", params={"limit": limit})

    assert response.status_code == 400
    assert "limit" in response.json()["error_message"]
    assert _texts(api.get("newsrsmsmessage"), "messages") == ["kept"]  # nothing consumed


def test_new_messages_per_sim_consume_only_that_sim(sandbox: SandboxServer) -> None:
    api = Api(sandbox)
    _receive(sandbox, "to A", SIM_A)
    _receive(sandbox, "to B", SIM_B)

    only_b = api.get("newsrsmsmessage/0039" + SIM_B[3:])
    rest = api.get(f"newsrsmsmessage/{SIM_A},{SIM_B}")

    assert _texts(only_b, "messages") == ["to B"]
    assert _texts(rest, "messages") == ["to A"]


def test_history_rereads_by_date_without_consuming(sandbox: SandboxServer) -> None:
    api = Api(sandbox, token=True)  # the clock moves an hour: a session would idle out
    _receive(sandbox, "early", SIM_A)
    sandbox.advance(3600)
    _receive(sandbox, "late", SIM_B)
    api.get("newsrsmsmessage")  # consume both
    start = (datetime.now(ROME) - timedelta(minutes=5)).strftime("%Y%m%d%H%M%S")
    middle = (datetime.now(ROME) + timedelta(minutes=30)).strftime("%Y%m%d%H%M%S")

    everything = api.get("srsmshistory", params={"from": start})
    again = api.get("srsmshistory", params={"from": start})
    before_middle = api.get("srsmshistory", params={"from": start, "to": middle})
    only_b = api.get(f"srsmshistory/{SIM_B}", params={"from": start})
    paged = api.get("srsmshistory", params={"from": start, "pageSize": "1", "pageNumber": "2"})

    assert _texts(everything, "srsmshistory") == ["late", "early"]  # newest first
    assert everything.json()["total"] == 2
    assert _texts(again, "srsmshistory") == ["late", "early"]
    assert _texts(before_middle, "srsmshistory") == ["early"]
    assert _texts(only_b, "srsmshistory") == ["late"]
    assert _texts(paged, "srsmshistory") == ["early"]


def test_history_after_a_message_id(sandbox: SandboxServer) -> None:
    api = Api(sandbox)
    for n in range(3):
        _receive(sandbox, f"m{n}")
    first_id = api.get("newsrsmsmessage").json()["messages"][0]["id"]

    after = api.get(f"srsmshistory/{SIM_A}/{first_id}", params={"limit": "1"})

    assert _texts(after, "srsmshistory") == ["m1"]


@pytest.mark.parametrize(
    ("params", "phrase"),
    [({}, "from is required"), ({"from": "2025"}, "yyyyMMddHHmmss")],
)
def test_history_needs_a_valid_from(
    sandbox: SandboxServer, params: dict[str, str], phrase: str
) -> None:
    response = Api(sandbox).get("srsmshistory", params=params)

    assert response.status_code == 400
    assert phrase in response.json()["error_message"]


def test_inbound_endpoints_need_authentication(sandbox: SandboxServer) -> None:
    for path in ("newsrsmsmessage", "srsmshistory"):
        response = requests.get(sandbox.base_url + path, timeout=TIMEOUT)
        assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [{"text": "no sender"}, {"sender": "+393331112223"}, {"sender": "333", "text": "x"}],
)
def test_receiving_checks_its_fields(sandbox: SandboxServer, body: dict[str, str]) -> None:
    response = control(sandbox, "inbound", body)

    assert response.status_code == 400
    assert sandbox.snapshot()["inbound"] == []


def test_the_page_form_receives_a_message(sandbox: SandboxServer) -> None:
    page = control(sandbox, "").text
    assert '<form method="post" action="inbound">' in page

    response = requests.post(
        sandbox.root_url + "_sandbox/inbound",
        data={"sender": "+393331112223", "id_sim": DEFAULT_SIM, "text": "<b>ciao</b>"},
        timeout=TIMEOUT,
        allow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/_sandbox/"
    assert html.escape("<b>ciao</b>") in control(sandbox, "").text
    [message] = Api(sandbox).get("newsrsmsmessage").json()["messages"]
    assert message["text"] == "<b>ciao</b>" and message["id_sim"] == DEFAULT_SIM


def test_reset_forgets_received_messages(sandbox: SandboxServer) -> None:
    _receive(sandbox, "gone")

    sandbox.reset()

    assert Api(sandbox).get("newsrsmsmessage").json()["messages"] == []
