"""``Transport._prepare`` builds the request that ``Session.request`` would: the same
method, URL, headers and body for every shape of call the client makes (a JSON POST, a GET
with a query, a bodiless DELETE, basic auth, an odd path, an IDN host, credentials in the
base URL, a cookie the gateway set). The transport skips requests' own preparation only for
speed; this file is what keeps the bytes on the wire the same."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses

from django_smsrest.client.errors import _Call
from django_smsrest.client.transport import Transport
from django_smsrest.exceptions import NotSentError

BASE = "https://gateway.example/API/v1.0/REST/"

CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "json POST",
        {
            "call": _Call("POST", "sms", "sms", "send", order_id="o-1"),
            "headers": {"user_key": "U1", "Session_key": "S1"},
            "json_body": {"message": "Ciao è €", "recipient": ["+393401234567"], "n": 1.5},
        },
    ),
    (
        "GET with a query",
        {
            "call": _Call("GET", "login", "login", "login"),
            "params": {"username": "a b&c=d", "password": "pä/ss?+%"},
        },
    ),
    (
        "GET with a query and keys",
        {
            "call": _Call("GET", "sms/o-1", "sms/{order_id}", "status"),
            "params": {"from": "2026-01-01 00:00:00", "to": "x"},
            "headers": {"user_key": "U1", "Session_key": "S1"},
        },
    ),
    ("bodiless DELETE", {"call": _Call("DELETE", "sms/o-1", "sms/{order_id}", "cancel")}),
    (
        "JSON list body",
        {"call": _Call("POST", "blacklist/sms", "blacklist/sms", "order"), "json_body": []},
    ),
    (
        "path to quote",
        {"call": _Call("GET", "alias/Città dei fiori#1", "alias/{alias}", "status")},
    ),
    (
        "basic auth",
        {"call": _Call("POST", "token", "token", "login"), "auth": ("user", "pässword")},
    ),
]


def _pair(transport: Transport, session: requests.Session, **kw: Any) -> tuple[Any, Any]:
    call: _Call = kw["call"]
    expected = session.prepare_request(
        requests.Request(
            method=call.method,
            url=transport.base_url + call.path,
            params=kw.get("params") or {},
            headers=kw.get("headers"),
            json=kw.get("json_body"),
            auth=kw.get("auth"),
            data={},
        )
    )
    got = transport._prepare(
        session,
        call,
        params=kw.get("params"),
        headers=kw.get("headers"),
        json_body=kw.get("json_body"),
        auth=kw.get("auth"),
    )
    return expected, got


def _same(expected: requests.PreparedRequest, got: requests.PreparedRequest) -> None:
    assert got.method == expected.method
    assert got.url == expected.url
    assert dict(got.headers) == dict(expected.headers)
    assert list(got.headers) == list(expected.headers)  # the order they go out in
    assert got.body == expected.body


@pytest.mark.parametrize(
    "base", [BASE, "https://smś.例え.example/REST/", "https://u:p@h.example/R/"]
)
@pytest.mark.parametrize(("name", "kw"), CASES, ids=[name for name, _ in CASES])
def test_prepared_as_requests_prepares(base: str, name: str, kw: dict[str, Any]) -> None:
    transport = Transport(base)
    _same(*_pair(transport, transport._session(), **kw))


def test_a_cookie_the_gateway_set_is_sent_back() -> None:
    transport = Transport(BASE)
    session = transport._session()
    session.cookies.set("AWSALB", "sticky", domain="gateway.example", path="/")
    expected, got = _pair(transport, session, **dict(CASES[0][1]))
    _same(expected, got)
    assert got.headers["Cookie"] == "AWSALB=sticky"


@responses.activate
def test_a_gateway_cookie_goes_out_on_the_next_request() -> None:
    """End to end through ``Session.send``: the answer's cookie is kept and sent back."""
    responses.post(BASE + "sms", json={}, status=201, headers={"Set-Cookie": "lb=1; Path=/"})
    transport = Transport(BASE)
    call = _Call("POST", "sms", "sms", "send")
    transport._request(call, json_body={"a": 1})
    transport._request(call, json_body={"a": 2})
    assert "Cookie" not in responses.calls[0].request.headers
    assert responses.calls[1].request.headers["Cookie"] == "lb=1"
    assert responses.calls[1].request.body == b'{"a": 2}'


def test_a_body_that_is_not_json_is_refused_before_anything_is_sent() -> None:
    transport = Transport(BASE)
    with pytest.raises(requests.exceptions.InvalidJSONError):
        transport._prepare(
            transport._session(),
            _Call("POST", "sms", "sms", "send"),
            params=None,
            headers=None,
            json_body={"n": float("nan")},
            auth=None,
        )


@pytest.mark.parametrize("value", ["S1\r\nX-Injected: 1", "S1\n", " S1"])
def test_a_header_requests_would_refuse_is_refused_before_sending(value: str) -> None:
    """A session key with a line break (a hostile login answer) is refused while the
    request is prepared, as ``Session.request`` refuses it: nothing goes out, also under
    ``responses`` (which stands in for the adapter, after the preparation)."""
    transport = Transport(BASE)
    call = _Call("POST", "sms", "sms", "send")
    with pytest.raises(requests.exceptions.InvalidHeader):
        transport._prepare(
            transport._session(),
            call,
            params=None,
            headers={"user_key": "U1", "Session_key": value},
            json_body={},
            auth=None,
        )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as gateway:
        gateway.post(BASE + "sms", json={}, status=201)
        with pytest.raises(NotSentError):
            transport._request(call, headers={"Session_key": value}, json_body={})
        assert len(gateway.calls) == 0
