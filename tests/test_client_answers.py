"""The client reads every answer of the gateway (issue 14 items 3, 5, 6, 7, 8).

Each test was written before the fix and failed on the previous client:

* a 404 "user_key not found" on ``sms/{order_id}`` is a refused key (re-login once, then
  :class:`AuthenticationError`), not a missing order;
* any 2xx is success for a send;
* the error detail is the gateway's own words under whatever key carries them, never the
  bare word "KO";
* ``order_id`` must match ``[A-Za-z0-9_.-]{1,32}`` in full (a trailing newline is refused);
* a 2xx that is not the documented JSON, a 201 without ``order_id`` and a 3xx redirect are
  maybe-sent errors with a message a person understands.
"""

from __future__ import annotations

import pytest
import responses

from django_smsrest.client import SmsRestClient
from django_smsrest.exceptions import (
    AuthenticationError,
    GatewayConnectionError,
    GatewayRejected,
    MaybeSentError,
    OrderNotFound,
    UnexpectedResponse,
)
from tests.test_client import (
    BASE,
    PASSWORD,
    SESSION_KEY,
    SMS_URL,
    USERNAME,
    add_login,
    calls_to,
    secret_free,
    send,
)

USER_KEY_404 = "[Not found] The User_key was not found"
ORDER_URL = BASE + "sms/ord-1"
LOGIN_URL = BASE + "login"


@pytest.fixture
def gw():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client():
    c = SmsRestClient(BASE, USERNAME, PASSWORD)
    yield c
    c.close()


# --- item 3: 404 "user_key not found" ---------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_user_key_404_on_an_order_logs_in_again_once(gw, client, method):
    add_login(gw)
    gw.add(method, ORDER_URL, status=404, body=USER_KEY_404)
    gw.add(method, ORDER_URL, json={"recipients": []})
    if method == "GET":
        assert client.get_order("ord-1").recipients == []
    else:
        client.cancel("ord-1")
    assert len(calls_to(gw, "GET", LOGIN_URL)) == 2
    assert len(calls_to(gw, method, ORDER_URL)) == 2


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_user_key_404_on_an_order_twice_is_an_authentication_error(gw, client, method):
    add_login(gw)
    gw.add(method, ORDER_URL, status=404, json={"result": "KO", "error_message": USER_KEY_404})
    with pytest.raises(AuthenticationError) as info:
        client.get_order("ord-1") if method == "GET" else client.cancel("ord-1")
    assert "user_key" in str(info.value)
    assert len(calls_to(gw, method, ORDER_URL)) == 2  # one repeat after one fresh login
    secret_free(info.value)


def test_a_plain_404_on_an_order_is_still_order_not_found(gw, client):
    add_login(gw)
    gw.add(responses.GET, ORDER_URL, status=404, json={"error_message": "order not found"})
    with pytest.raises(OrderNotFound):
        client.get_order("ord-1")
    assert len(calls_to(gw, "GET", LOGIN_URL)) == 1


@pytest.mark.parametrize("path", ["status", "smshistory"])
def test_user_key_404_on_the_other_endpoints(gw, client, path):
    from datetime import UTC, datetime

    add_login(gw)
    gw.add(responses.GET, BASE + path, status=404, body=USER_KEY_404)
    with pytest.raises(AuthenticationError):
        if path == "status":
            client.get_status()
        else:
            client.get_history(datetime(2026, 1, 1, tzinfo=UTC))
    assert len(calls_to(gw, "GET", LOGIN_URL)) == 2


# --- item 5: any 2xx -------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 203, 206])
def test_any_2xx_with_the_documented_body_is_sent(gw, client, status):
    add_login(gw)
    body = {"result": "OK", "order_id": "ord-1", "total_sent": 1}
    gw.add(responses.POST, SMS_URL, json=body, status=status)
    assert send(client, order_id="ord-1").total_sent == 1


# --- item 6: the gateway's own words ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"result": "KO", "error": "not enough credit"}, "not enough credit"),
        ({"result": "KO", "detail": "sender not allowed"}, "sender not allowed"),
        ({"error_message": "first", "message": "second"}, "first"),
        ({"message": "bad recipient", "code": 12}, "bad recipient (code 12)"),
        (
            {"errors": ["recipient invalid", "message too long"]},
            "recipient invalid; message too long",
        ),
        ({"errors": {"recipient": ["invalid number"]}}, "recipient: invalid number"),
        ({"result": "KO", "error": {"message": "nested reason"}}, "nested reason"),
        ("plain text reason", "plain text reason"),
    ],
)
def test_error_detail_is_the_gateways_own_words(gw, client, body, expected):
    add_login(gw)
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    gw.add(responses.POST, SMS_URL, status=400, **kwargs)
    with pytest.raises(GatewayRejected) as info:
        send(client)
    assert info.value.detail == expected
    assert expected in str(info.value)


def test_error_detail_is_never_the_bare_word_ko(gw, client):
    add_login(gw)
    gw.add(responses.POST, SMS_URL, status=400, json={"result": "KO"})
    with pytest.raises(GatewayRejected) as info:
        send(client)
    assert info.value.detail != "KO" and not str(info.value).endswith(": KO")
    assert "no reason" in str(info.value)


def test_error_detail_is_redacted_and_truncated(gw, client):
    add_login(gw)
    reason = f"echo {PASSWORD} {SESSION_KEY} " + "x" * 1000
    gw.add(responses.POST, SMS_URL, status=400, json={"result": "KO", "error": reason})
    with pytest.raises(GatewayRejected) as info:
        send(client)
    assert info.value.detail.startswith("echo *** ***") and len(info.value.detail) <= 300
    secret_free(info.value)


# --- item 7: order_id -------------------------------------------------------------------


@pytest.mark.parametrize("order_id", ["abc\n", "abc\r\n", "", "a" * 33, "a b", "ord/1", "é"])
def test_order_id_must_match_in_full(gw, client, order_id):
    with pytest.raises(ValueError, match="order_id"):
        send(client, order_id=order_id)
    assert len(gw.calls) == 0  # refused before any request, login included


def test_order_id_of_32_allowed_characters_is_sent(gw, client):
    add_login(gw)
    order_id = "Ab0_.-" + "z" * 26
    gw.add(
        responses.POST,
        SMS_URL,
        status=201,
        json={"result": "OK", "order_id": order_id, "total_sent": 1},
    )
    assert send(client, order_id=order_id).order_id == order_id


# --- item 8: answers that are not "sent" -------------------------------------------------


def test_html_page_with_200_is_maybe_sent_and_says_so(gw, client):
    add_login(gw)
    page = "<!DOCTYPE html><html><body><h1>Scheduled maintenance</h1></body></html>"
    gw.add(responses.POST, SMS_URL, status=200, body=page, content_type="text/html")
    with pytest.raises(UnexpectedResponse) as info:
        send(client, order_id="ord-1")
    assert isinstance(info.value, MaybeSentError)
    text = str(info.value)
    assert "HTML page" in text and "HTTP 200" in text
    assert "may have been accepted" in text and "GET sms/ord-1" in text


def test_201_without_order_id_is_maybe_sent(gw, client):
    add_login(gw)
    gw.add(responses.POST, SMS_URL, status=201, json={"result": "OK", "total_sent": 1})
    with pytest.raises(UnexpectedResponse) as info:
        send(client, order_id="ord-1")
    assert isinstance(info.value, MaybeSentError)
    assert "order_id" in str(info.value) and "may have been accepted" in str(info.value)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_is_maybe_sent_never_followed_and_explained(gw, client, status):
    add_login(gw)
    target = "https://maintenance.example.test/down.html?session_key=" + SESSION_KEY
    gw.add(responses.POST, SMS_URL, status=status, headers={"Location": target})
    with pytest.raises(UnexpectedResponse) as info:
        send(client, order_id="ord-1")
    assert isinstance(info.value, MaybeSentError)
    text = str(info.value)
    assert f"redirect (HTTP {status})" in text and "maintenance.example.test" in text
    assert "BASE_URL" in text and "may have been" in text
    assert len(gw.calls) == 2  # login and the POST: the redirect was not followed
    secret_free(info.value)


def test_redirect_of_the_login_is_not_sent_and_explained(gw, client):
    gw.add(responses.GET, LOGIN_URL, status=301, headers={"Location": "https://new.example.test/"})
    with pytest.raises(GatewayConnectionError) as info:
        client.login()
    assert "redirect (HTTP 301)" in str(info.value) and "BASE_URL" in str(info.value)
