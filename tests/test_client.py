"""Unit tests of SmsRestClient with HTTP mocked by ``responses``.

They pin the contracts the services rely on: which exception (and so "surely not sent" vs
"maybe sent") each gateway answer maps to, one POST per send (plus exactly one repeat after
a refused key), one login shared by all threads, the documented field names, and that no
password / session key / login URL ever reaches an exception or a log line.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from http.client import RemoteDisconnected
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError

from django_smsrest.client import SEND_EXTRA_FIELDS, SmsRestClient, parse_retry_after
from django_smsrest.conf import build_settings
from django_smsrest.exceptions import (
    AuthenticationError,
    ConnectionDropped,
    GatewayConnectionError,
    GatewayRejected,
    GatewayServerError,
    GatewayTimeout,
    KeysRefused,
    MaybeSentError,
    NotSentError,
    OrderNotFound,
    RateLimited,
    SmsRestConfigurationError,
    UnexpectedResponse,
)
from django_smsrest.results import DeliveryState

BASE = "https://api.example.test/API/v1.0/REST/"
HOST = "api.example.test"
USERNAME = "acme-user"
PASSWORD = "Pa55-w0rd-S3CRET"  # fake
USER_KEY = "UK-12345"
SESSION_KEY = "SESSION-KEY-abcdef123456"
LOGIN_URL = BASE + "login"
SMS_URL = BASE + "sms"
SEND_OK = {"result": "OK", "order_id": "ord-1", "total_sent": 1, "remaining_credits": 99}
ROME = ZoneInfo("Europe/Rome")


@pytest.fixture
def gw():
    """A started RequestsMock (not every registered URL must be hit)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client():
    c = SmsRestClient(BASE, USERNAME, PASSWORD)
    yield c
    c.close()


def add_login(gw, body=f"{USER_KEY};{SESSION_KEY}", status=200, url=LOGIN_URL):
    gw.add(responses.GET, url, body=body, status=status, content_type="text/plain")


def calls_to(gw, method, url):
    return [
        c for c in gw.calls if c.request.method == method and c.request.url.split("?")[0] == url
    ]


def secret_free(exc: BaseException) -> None:
    """Assert that no secret and no login URL is in the exception or its chain."""
    seen = exc
    while seen is not None:
        for text in (
            str(seen),
            repr(seen),
            repr(getattr(seen, "args", ())),
            str(seen.detail if hasattr(seen, "detail") else ""),
        ):
            assert PASSWORD not in text
            assert SESSION_KEY not in text
            assert "password=" not in text
            assert "login?" not in text
        seen = seen.__cause__ or seen.__context__


def send(client, **kwargs):
    return client.send_sms("Hello", ["+393471234567"], message_type="N", **kwargs)


# --- construction -------------------------------------------------------------------------


def test_plain_http_is_refused_unless_loopback():
    with pytest.raises(SmsRestConfigurationError, match="https"):
        SmsRestClient("http://api.example.test/API/v1.0/REST/", USERNAME, PASSWORD)
    assert SmsRestClient("http://127.0.0.1:8025/API/v1.0/REST", "u", "p").base_url.endswith("/")
    SmsRestClient("http://localhost:8025/API/v1.0/REST/", "u", "p")
    SmsRestClient("http://[::1]:8025/API/v1.0/REST/", "u", "p")


def test_password_never_in_repr(client):
    assert PASSWORD not in repr(client)
    assert PASSWORD not in repr(vars(client))


def test_from_settings_takes_every_relevant_setting():
    conf = build_settings(
        {
            "BRAND": "skebby",
            "USERNAME": USERNAME,
            "PASSWORD": PASSWORD,
            "AUTH": "token",
            "TIMEOUT": (1.5, 7),
            "VERIFY_TLS": "/etc/ssl/private-ca.pem",
            "GATEWAY_TIMEZONE": "UTC",
        }
    )
    c = SmsRestClient.from_settings(conf)
    assert c.base_url == "https://api.skebby.it/API/v1.0/REST/"
    assert (c.username, c.auth, c.timeout, c.verify) == (
        USERNAME,
        "token",
        (1.5, 7.0),
        "/etc/ssl/private-ca.pem",
    )
    assert c.gateway_timezone == "UTC"
    assert SmsRestClient.from_settings(conf, auth="session").auth == "session"


# --- auth ---------------------------------------------------------------------------------


def test_login_uses_query_credentials_and_keys_are_reused(gw, client):
    add_login(gw)
    gw.add(responses.POST, SMS_URL, json=SEND_OK, status=201)
    for _ in range(10):
        send(client)
    logins = calls_to(gw, "GET", LOGIN_URL)
    assert len(logins) == 1
    assert parse_qs(urlsplit(logins[0].request.url).query) == {
        "username": [USERNAME],
        "password": [PASSWORD],
    }
    posts = calls_to(gw, "POST", SMS_URL)
    assert len(posts) == 10
    # Header names exactly as the docs spell them (a library must not rewrite them).
    names = list(posts[0].request.headers.keys())
    assert "user_key" in names and "Session_key" in names
    assert posts[0].request.headers["user_key"] == USER_KEY
    assert posts[0].request.headers["Session_key"] == SESSION_KEY
    assert "?" not in posts[0].request.url
    assert client.stats.logins == 1
    assert client.stats.count("POST", "sms") == 10
    assert client.stats.count("GET", "login") == 1


def test_token_auth_uses_token_endpoint_and_access_token_header(gw):
    client = SmsRestClient(BASE, USERNAME, PASSWORD, auth="token")
    add_login(gw, body=f"{USER_KEY};TOKEN-1", url=BASE + "token")
    gw.add(responses.POST, SMS_URL, json=SEND_OK, status=201)
    send(client)
    post = calls_to(gw, "POST", SMS_URL)[0].request
    assert "Access_token" in list(post.headers.keys())
    assert post.headers["Access_token"] == "TOKEN-1"
    assert "Session_key" not in post.headers
    assert len(calls_to(gw, "GET", BASE + "login")) == 0


def test_basic_auth_login_keeps_the_password_out_of_the_url(gw):
    client = SmsRestClient(BASE, USERNAME, PASSWORD, login_with_basic_auth=True)
    add_login(gw)
    client.login()
    request = calls_to(gw, "GET", LOGIN_URL)[0].request
    assert "?" not in request.url
    assert request.headers["Authorization"].startswith("Basic ")


def test_401_relogs_in_once_and_repeats_the_post_once(gw, client):
    gw.add(responses.GET, LOGIN_URL, body=f"{USER_KEY};OLD", content_type="text/plain")
    gw.add(responses.GET, LOGIN_URL, body=f"{USER_KEY};NEW", content_type="text/plain")
    gw.add(responses.POST, SMS_URL, status=401)
    gw.add(responses.POST, SMS_URL, json=SEND_OK, status=201)
    result = send(client, order_id="ord-1")
    assert result.order_id == "ord-1"
    assert len(calls_to(gw, "GET", LOGIN_URL)) == 2
    posts = calls_to(gw, "POST", SMS_URL)
    assert len(posts) == 2
    assert [p.request.headers["Session_key"] for p in posts] == ["OLD", "NEW"]
    # The repeated POST is the same order (same order_id), not a new one.
    assert json.loads(posts[0].request.body) == json.loads(posts[1].request.body)


def test_401_twice_is_an_authentication_error(gw, client):
    add_login(gw)
    gw.add(responses.POST, SMS_URL, status=401)
    with pytest.raises(AuthenticationError) as info:
        send(client)
    assert isinstance(info.value, NotSentError)
    assert info.value.status_code == 401
    assert len(calls_to(gw, "GET", LOGIN_URL)) == 2
    assert len(calls_to(gw, "POST", SMS_URL)) == 2
    secret_free(info.value)


@pytest.mark.parametrize("status", [404, 401])
def test_wrong_credentials_give_a_clear_error_without_secrets(gw, client, status):
    add_login(gw, body=f"wrong password {PASSWORD}", status=status)
    with pytest.raises(AuthenticationError) as info:
        send(client)
    text = str(info.value)
    assert f"refused the username/password for {HOST}" in text
    assert "SMSREST['USERNAME']" in text and "SMSREST['PASSWORD']" in text
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    secret_free(info.value)
    assert len(calls_to(gw, "POST", SMS_URL)) == 0


def test_connection_error_quoting_the_login_url_is_sanitised(gw, client):
    leaky_url = f"/API/v1.0/REST/login?username={USERNAME}&password={PASSWORD}"
    refused = NewConnectionError(
        HTTPSConnection(HOST, 443), f"Failed to establish a new connection to {leaky_url}"
    )
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    error = requests.ConnectionError(MaxRetryError(None, leaky_url, refused))
    assert PASSWORD in str(error)  # the premise: requests' own message leaks it
    gw.add(responses.GET, LOGIN_URL, body=error)
    with pytest.raises(GatewayConnectionError) as info:
        send(client)
    assert isinstance(info.value, NotSentError)
    assert "Connection refused" in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    secret_free(info.value)
    assert len(calls_to(gw, "POST", SMS_URL)) == 0


def test_login_answer_that_is_not_two_keys_is_not_sent_and_not_quoted(gw, client):
    add_login(gw, body=f"<html>{SESSION_KEY}</html>")
    with pytest.raises(GatewayConnectionError) as info:
        send(client)
    secret_free(info.value)
    assert len(calls_to(gw, "POST", SMS_URL)) == 0


def test_login_server_error_is_not_sent(gw, client):
    add_login(gw, status=503, body="maintenance")
    with pytest.raises(GatewayConnectionError) as info:
        send(client)
    assert isinstance(info.value, NotSentError) and info.value.retryable
    assert len(calls_to(gw, "POST", SMS_URL)) == 0


def test_idle_session_is_renewed_before_the_call(gw, client):
    add_login(gw)
    gw.add(responses.GET, BASE + "status", json={"sms": []})
    client.get_status()
    client._keys_used_at -= 600  # ten idle minutes: the gateway forgot the session
    client.get_status()
    assert client.stats.logins == 2
    assert client.stats.count("GET", "status") == 2  # no 401 round trip


def test_token_auth_does_not_idle_out(gw):
    client = SmsRestClient(BASE, USERNAME, PASSWORD, auth="token")
    add_login(gw, url=BASE + "token")
    gw.add(responses.GET, BASE + "status", json={"sms": []})
    client.get_status()
    client._keys_used_at -= 600
    client.get_status()
    assert client.stats.logins == 1


def test_eight_threads_hitting_401_together_log_in_once(gw, client):
    threads_n = 8
    logins = []
    barrier = threading.Barrier(threads_n)
    lock = threading.Lock()

    def login_cb(request):
        with lock:
            logins.append(1)
            n = len(logins)
        return 200, {}, f"{USER_KEY};KEY{n}"

    def post_cb(request):
        if request.headers["Session_key"] == "KEY1":
            # Every thread is holding a 401 for the first key before anyone logs in again.
            barrier.wait(timeout=10)
            return 401, {}, ""
        body = json.loads(request.body)
        return 201, {}, json.dumps({**SEND_OK, "order_id": body["order_id"]})

    gw.add_callback(responses.GET, LOGIN_URL, callback=login_cb)
    gw.add_callback(responses.POST, SMS_URL, callback=post_cb)
    client.login()

    results, errors = [], []

    def worker(i):
        try:
            results.append(send(client, order_id=f"ord-{i}").order_id)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert errors == []
    assert sorted(results) == sorted(f"ord-{i}" for i in range(threads_n))
    assert len(logins) == 2  # the initial one and exactly one after the 401s
    assert client.stats.logins == 2
    assert len(calls_to(gw, "POST", SMS_URL)) == 2 * threads_n


def test_each_thread_has_its_own_keep_alive_session(client):
    main = client._session()
    assert client._session() is main
    other = []
    t = threading.Thread(target=lambda: other.append(client._session()))
    t.start()
    t.join()
    assert other[0] is not main
    assert main.trust_env is False
    assert main.get_adapter(BASE).max_retries.total == 0


def test_session_is_recreated_after_fork(client):
    before = client._session()
    client._pid = -1  # what os.getpid() != self._pid looks like in a forked child
    client._local.pid = -1
    client._check_fork()
    assert client._session() is not before


# --- send payload -------------------------------------------------------------------------


def test_post_payload_has_every_documented_field(gw, client):
    add_login(gw)
    gw.add(responses.POST, SMS_URL, json=SEND_OK, status=201)
    when = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)
    extra = {
        "campaign_name": "spring",
        "max_fragments": 3,
        "truncate": False,
        "validity_period_min": 120,
        "short_link_url": "https://example.com/x",
        "richsms_url": "https://example.com/r",
        "id_landing": 7,
    }
    assert set(extra) == SEND_EXTRA_FIELDS
    client.send_sms(
        "Ciao €",
        ["+393471234567", "+393471234568"],
        message_type="N",
        sender="ACME",
        scheduled_delivery_time=when,
        order_id="abc_1.2-3",
        encoding="ucs2",
        return_credits=True,
        return_remaining=True,
        allow_invalid_recipients=True,
        **extra,
    )
    request = calls_to(gw, "POST", SMS_URL)[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "message_type": "N",
        "message": "Ciao €",
        "recipient": ["+393471234567", "+393471234568"],
        "sender": "ACME",
        "scheduled_delivery_time": "20250115103000",
        "scheduled_delivery_timezone": "Europe/Rome",
        "order_id": "abc_1.2-3",
        "encoding": "ucs2",
        "returnCredits": True,
        "returnRemaining": True,
        "allowInvalidRecipients": True,
        **extra,
    }


def test_minimal_payload_leaves_optional_fields_out(gw, client):
    add_login(gw)
    gw.add(responses.POST, SMS_URL, json=SEND_OK, status=201)
    client.send_sms("Hi", "+393471234567", message_type="LL")
    body = json.loads(calls_to(gw, "POST", SMS_URL)[0].request.body)
    assert body == {
        "message_type": "LL",
        "message": "Hi",
        "recipient": ["+393471234567"],
        "returnCredits": False,
        "returnRemaining": True,
        "allowInvalidRecipients": False,
    }


@pytest.mark.parametrize(
    ("when", "tz", "expected"),
    [
        (datetime(2025, 1, 15, 9, 30, tzinfo=UTC), "Europe/Rome", "20250115103000"),  # CET
        (datetime(2025, 7, 1, 9, 30, 5, tzinfo=UTC), "Europe/Rome", "20250701113005"),  # CEST
        (datetime(2025, 7, 1, 23, 30, tzinfo=UTC), "Europe/Rome", "20250702013000"),  # next day
        (datetime(2025, 7, 1, 9, 30, tzinfo=ROME), "Europe/Rome", "20250701093000"),
        (datetime(2025, 7, 1, 9, 30, tzinfo=UTC), "UTC", "20250701093000"),
    ],
)
def test_scheduled_time_is_sent_in_the_gateway_timezone(gw, when, tz, expected):
    client = SmsRestClient(BASE, USERNAME, PASSWORD, gateway_timezone=tz)
    add_login(gw)
    gw.add(responses.POST, SMS_URL, json=SEND_OK, status=201)
    send(client, scheduled_delivery_time=when)
    body = json.loads(calls_to(gw, "POST", SMS_URL)[0].request.body)
    assert body["scheduled_delivery_time"] == expected
    assert body["scheduled_delivery_timezone"] == tz


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"scheduled_delivery_time": datetime(2025, 1, 1, 10, 0)}, ValueError),  # naive
        ({"order_id": "x" * 33}, ValueError),
        ({"order_id": "bad id!"}, ValueError),
        ({"encoding": "utf8"}, ValueError),
        ({"campain_name": "typo"}, TypeError),
    ],
)
def test_bad_arguments_fail_before_any_request(gw, client, kwargs, error):
    with pytest.raises(error):
        send(client, **kwargs)
    assert len(gw.calls) == 0


def test_send_result_is_parsed(gw, client):
    add_login(gw)
    gw.add(
        responses.POST,
        SMS_URL,
        json={
            "result": "OK",
            "order_id": "ord-9",
            "total_sent": 3,
            "remaining_credits": 42,
            "internal_order_id": "INT-1",
        },
        status=201,
    )
    result = send(client, order_id="ord-9")
    assert (result.order_id, result.total_sent, result.remaining_credits) == ("ord-9", 3, 42)
    assert result.internal_order_id == "INT-1"


@pytest.mark.parametrize("status", [200, 201, 202])
def test_any_2xx_is_success(gw, client, status):
    add_login(gw)
    gw.add(
        responses.POST,
        SMS_URL,
        json={"result": "OK", "order_id": "o", "total_sent": 1},
        status=status,
    )
    assert send(client).order_id == "o"


# --- the error table (gateway-api.md §11, reliability-perf.md §2.5) -------------------------

NOT_SENT, MAYBE_SENT = "not sent", "maybe sent"

POST_STATUS_TABLE = [
    # (id, status, body, headers, exception, kind, POSTs made)
    (
        "E5-missing-fields",
        400,
        {"result": "KO", "error_message": "message is required"},
        {},
        GatewayRejected,
        NOT_SENT,
        1,
    ),
    (
        "E6-invalid-recipient",
        400,
        {"message": "invalid recipient +39123"},
        {},
        GatewayRejected,
        NOT_SENT,
        1,
    ),
    (
        "E7-sender-not-allowed",
        400,
        "sender not allowed for message type",
        {},
        GatewayRejected,
        NOT_SENT,
        1,
    ),
    ("E8-too-long", 400, {"result": "KO", "code": "TOO_LONG"}, {}, GatewayRejected, NOT_SENT, 1),
    (
        "E9-no-credit",
        400,
        {"error_message": "not enough credit", "code": 12},
        {},
        GatewayRejected,
        NOT_SENT,
        1,
    ),
    (
        "E10-bad-date",
        400,
        {"error_message": "bad scheduled_delivery_time"},
        {},
        GatewayRejected,
        NOT_SENT,
        1,
    ),
    (
        "E11-bad-order-id",
        400,
        {"error_message": "invalid order_id"},
        {},
        GatewayRejected,
        NOT_SENT,
        1,
    ),
    ("E2-E3-401-twice", 401, "", {}, KeysRefused, NOT_SENT, 2),
    (
        "E4-user-key-unknown",
        404,
        "[Not found] The User_key was not found",
        {},
        AuthenticationError,
        NOT_SENT,
        2,
    ),
    ("429-seconds", 429, "", {"Retry-After": "30"}, RateLimited, NOT_SENT, 1),
    ("E16-500", 500, "boom", {}, GatewayServerError, MAYBE_SENT, 1),
    ("E16-502", 502, "", {}, GatewayServerError, MAYBE_SENT, 1),
    ("E16-503", 503, "", {"Retry-After": "5"}, GatewayServerError, MAYBE_SENT, 1),
    ("other-status-409", 409, "conflict", {}, UnexpectedResponse, MAYBE_SENT, 1),
    (
        "redirect-not-followed",
        302,
        "",
        {"Location": BASE + "elsewhere"},
        UnexpectedResponse,
        MAYBE_SENT,
        1,
    ),
    ("2xx-not-json", 201, "<html>OK</html>", {}, UnexpectedResponse, MAYBE_SENT, 1),
    ("2xx-json-list", 201, ["OK"], {}, UnexpectedResponse, MAYBE_SENT, 1),
    (
        "2xx-result-ko",
        201,
        {"result": "KO", "order_id": "o", "total_sent": 0},
        {},
        UnexpectedResponse,
        MAYBE_SENT,
        1,
    ),
    (
        "2xx-no-total",
        201,
        {"result": "OK", "order_id": "o"},
        {},
        UnexpectedResponse,
        MAYBE_SENT,
        1,
    ),
]


@pytest.mark.parametrize(
    ("status", "body", "headers", "exc_class", "kind", "posts"),
    [pytest.param(*row[1:], id=row[0]) for row in POST_STATUS_TABLE],
)
def test_post_status_maps_to_the_right_exception(
    gw, client, status, body, headers, exc_class, kind, posts
):
    add_login(gw)
    kwargs = {"json": body} if isinstance(body, dict | list) else {"body": body}
    gw.add(responses.POST, SMS_URL, status=status, headers=headers, **kwargs)
    gw.add(responses.GET, BASE + "elsewhere", json=SEND_OK)  # must never be followed
    with pytest.raises(exc_class) as info:
        send(client)
    error = info.value
    assert type(error) is exc_class
    assert isinstance(error, NotSentError if kind == NOT_SENT else MaybeSentError)
    assert isinstance(error, MaybeSentError if kind == NOT_SENT else NotSentError) is False
    assert error.status_code == status
    assert len(calls_to(gw, "POST", SMS_URL)) == posts
    assert len(calls_to(gw, "GET", BASE + "elsewhere")) == 0
    secret_free(error)


def test_400_detail_is_the_gateways_reason_sanitised_and_truncated(gw, client):
    add_login(gw)
    reason = f"sender not allowed; echo {SESSION_KEY} {PASSWORD} \x00\n" + "x" * 1000
    gw.add(
        responses.POST,
        SMS_URL,
        status=400,
        json={"result": "KO", "error_message": reason, "code": "E7"},
    )
    with pytest.raises(GatewayRejected) as info:
        send(client)
    assert info.value.detail.startswith("sender not allowed; echo *** ***")
    assert "(code E7)" not in info.value.detail or len(info.value.detail) <= 300
    assert len(info.value.detail) <= 300
    assert "\x00" not in info.value.detail and "\n" not in info.value.detail
    assert not info.value.retryable
    secret_free(info.value)


def test_400_detail_from_code_and_plain_text(gw, client):
    add_login(gw)
    gw.add(responses.POST, SMS_URL, status=400, json={"error_message": "no credit", "code": 9})
    gw.add(responses.POST, SMS_URL, status=400, body="plain reason")
    with pytest.raises(GatewayRejected) as first:
        send(client)
    assert first.value.detail == "no credit (code 9)"
    assert "no credit" in str(first.value)
    with pytest.raises(GatewayRejected) as second:
        send(client)
    assert second.value.detail == "plain reason"


def _conn():
    return HTTPSConnection(HOST, 443)


TRANSPORT_TABLE = [
    ("connect-timeout", requests.ConnectTimeout("timed out"), GatewayConnectionError, NOT_SENT),
    (
        "refused",
        requests.ConnectionError(
            MaxRetryError(
                None, "/sms", NewConnectionError(_conn(), "[Errno 111] Connection refused")
            )
        ),
        GatewayConnectionError,
        NOT_SENT,
    ),
    (
        "dns",
        requests.ConnectionError(
            MaxRetryError(
                None,
                "/sms",
                NameResolutionError(
                    HOST, _conn(), socket.gaierror(-2, "Name or service not known")
                ),
            )
        ),
        GatewayConnectionError,
        NOT_SENT,
    ),
    (
        "tls-verify",
        requests.exceptions.SSLError(
            MaxRetryError(
                None,
                "/sms",
                Urllib3SSLError(ssl.SSLCertVerificationError(1, "certificate verify failed")),
            )
        ),
        GatewayConnectionError,
        NOT_SENT,
    ),
    ("read-timeout", requests.ReadTimeout("read timed out"), GatewayTimeout, MAYBE_SENT),
    (
        "read-timeout-in-body",
        requests.ConnectionError(ReadTimeoutError(None, "/sms", "Read timed out.")),
        GatewayTimeout,
        MAYBE_SENT,
    ),
    (
        "remote-disconnected",
        requests.ConnectionError(
            ProtocolError(
                "Connection aborted.", RemoteDisconnected("Remote end closed connection")
            )
        ),
        ConnectionDropped,
        MAYBE_SENT,
    ),
    (
        "connection-reset",
        requests.ConnectionError(
            ProtocolError(
                "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
            )
        ),
        ConnectionDropped,
        MAYBE_SENT,
    ),
    (
        "chunked-encoding",
        requests.exceptions.ChunkedEncodingError(ProtocolError("Response ended prematurely")),
        ConnectionDropped,
        MAYBE_SENT,
    ),
    (
        "tls-eof-mid-stream",
        requests.exceptions.SSLError(
            Urllib3SSLError(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))
        ),
        ConnectionDropped,
        MAYBE_SENT,
    ),
    (
        "content-decoding",
        requests.exceptions.ContentDecodingError("bad gzip"),
        UnexpectedResponse,
        MAYBE_SENT,
    ),
]


@pytest.mark.parametrize(
    ("error", "exc_class", "kind"),
    [pytest.param(*row[1:], id=row[0]) for row in TRANSPORT_TABLE],
)
def test_transport_failure_on_post_maps_to_the_right_exception(gw, client, error, exc_class, kind):
    add_login(gw)
    gw.add(responses.POST, SMS_URL, body=error)
    with pytest.raises(exc_class) as info:
        send(client)
    assert type(info.value) is exc_class
    assert isinstance(info.value, NotSentError if kind == NOT_SENT else MaybeSentError)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert len(calls_to(gw, "POST", SMS_URL)) == 1  # never retried
    secret_free(info.value)


@pytest.mark.parametrize(
    ("error", "exc_class", "kind"),
    [pytest.param(*row[1:], id=row[0]) for row in TRANSPORT_TABLE],
)
def test_any_transport_failure_of_the_login_is_not_sent(gw, client, error, exc_class, kind):
    gw.add(responses.GET, LOGIN_URL, body=error)
    with pytest.raises(GatewayConnectionError) as info:
        send(client)
    assert isinstance(info.value, NotSentError)
    assert len(calls_to(gw, "POST", SMS_URL)) == 0


def test_e12_unknown_order_is_order_not_found(gw, client):
    add_login(gw)
    gw.add(responses.GET, SMS_URL + "/nope", status=404)
    with pytest.raises(OrderNotFound) as info:
        client.get_order("nope")
    assert "nope" in str(info.value)
    assert client.stats.logins == 1  # a 404 on an order is an answer, not a key problem


def test_e13_cancel_of_a_non_scheduled_order_is_order_not_found(gw, client):
    add_login(gw)
    gw.add(responses.DELETE, SMS_URL + "/sent-1", status=404)
    with pytest.raises(OrderNotFound, match="cancellable"):
        client.cancel("sent-1")


@pytest.mark.parametrize(
    ("status", "exc_class"),
    [
        (400, GatewayRejected),
        (429, RateLimited),
        (500, GatewayServerError),
        (418, UnexpectedResponse),
    ],
)
def test_get_endpoints_use_the_same_mapping(gw, client, status, exc_class):
    add_login(gw)
    gw.add(responses.GET, BASE + "status", status=status)
    with pytest.raises(exc_class):
        client.get_status()


def test_429_retry_after_seconds(gw, client):
    add_login(gw)
    gw.add(responses.POST, SMS_URL, status=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as info:
        send(client)
    assert info.value.retry_after == 120.0
    assert info.value.retryable


def test_429_retry_after_http_date(gw, client):
    add_login(gw)
    when = datetime.now(UTC) + timedelta(seconds=90)
    gw.add(
        responses.POST,
        SMS_URL,
        status=429,
        headers={"Retry-After": format_datetime(when, usegmt=True)},
    )
    with pytest.raises(RateLimited) as info:
        send(client)
    assert 80 <= info.value.retry_after <= 90


def test_parse_retry_after_edge_cases():
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("999999") == 3600.0  # capped
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after("60", cap=10) == 10


# --- other endpoints ----------------------------------------------------------------------


def test_get_order_parses_states_and_dates(gw, client):
    add_login(gw)
    gw.add(
        responses.GET,
        SMS_URL + "/ord-1",
        json={
            "result": "OK",
            "recipient_number": 3,
            "recipients": [
                {
                    "destination": "+393471234567",
                    "status": "DLVRD",
                    "delivery_date": "20250701113005",
                },
                {"destination": "+393471234568", "status": "WAIT4DLVR", "delivery_date": ""},
                {"destination": "+393471234569", "status": "SOMETHINGNEW", "delivery_date": None},
            ],
        },
    )
    order = client.get_order("ord-1")
    assert order.order_id == "ord-1"
    first, second, third = order.recipients
    assert first.state is DeliveryState.DLVRD
    assert first.delivery_date == datetime(2025, 7, 1, 11, 30, 5, tzinfo=ROME)
    assert first.delivery_date.astimezone(UTC) == datetime(2025, 7, 1, 9, 30, 5, tzinfo=UTC)
    assert second.state is DeliveryState.WAIT4DLVR and second.delivery_date is None
    assert third.state is DeliveryState.UNKNOWN and third.raw_status == "SOMETHINGNEW"


def test_get_order_quotes_the_order_id_in_the_path(gw, client):
    add_login(gw)
    gw.add(responses.GET, SMS_URL + "/a%2Fb", json={"recipients": []})
    assert client.get_order("a/b").recipients == []
    assert client.stats.count("GET", "sms/{order_id}") == 1


def test_get_order_with_a_body_that_is_not_json_is_unexpected(gw, client):
    add_login(gw)
    gw.add(responses.GET, SMS_URL + "/o", body="OK")
    with pytest.raises(UnexpectedResponse):
        client.get_order("o")


def test_cancel_sends_delete(gw, client):
    add_login(gw)
    gw.add(responses.DELETE, SMS_URL + "/sched-1", json={"result": "OK"})
    assert client.cancel("sched-1") is None
    assert len(calls_to(gw, "DELETE", SMS_URL + "/sched-1")) == 1


def test_get_status_parses_credits_and_money(gw, client):
    add_login(gw)
    gw.add(
        responses.GET,
        BASE + "status",
        json={
            "money": 12.34,
            "sms": [{"type": "GP", "quantity": 11670}, {"type": "SI", "quantity": "16079"}],
            "email": {"bandwidth": 2000.0},
        },
    )
    status = client.get_status()
    assert status.credits == {"GP": 11670, "SI": 16079}
    assert status.money == Decimal("12.34")
    request = calls_to(gw, "GET", BASE + "status")[0].request
    assert parse_qs(urlsplit(request.url).query) == {"getMoney": ["true"], "typeAliases": ["true"]}


def test_get_status_without_money(gw, client):
    add_login(gw)
    gw.add(responses.GET, BASE + "status", json={"money": None, "sms": []})
    status = client.get_status(money=False)
    assert status.money is None and status.credits == {}
    request = calls_to(gw, "GET", BASE + "status")[0].request
    assert parse_qs(urlsplit(request.url).query)["getMoney"] == ["false"]


def test_get_history_sends_filters_and_parses_the_page(gw, client):
    add_login(gw)
    gw.add(
        responses.GET,
        BASE + "smshistory",
        json={
            "total": 31,
            "pageNumber": 2,
            "pageSize": 10,
            "smshistory": [
                {
                    "order_id": "o-1",
                    "create_time": "20250115103000",
                    "schedule_time": "",
                    "message_type": "N",
                    "sender": "ACME",
                    "num_recipients": 2,
                }
            ],
        },
    )
    page = client.get_history(
        datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC), page=2, page_size=10
    )
    query = parse_qs(urlsplit(calls_to(gw, "GET", BASE + "smshistory")[0].request.url).query)
    assert query == {
        "from": ["20250101010000"],
        "to": ["20250201010000"],
        "timezone": ["Europe/Rome"],
        "pageNumber": ["2"],
        "pageSize": ["10"],
    }
    assert (page.total, page.page_number, page.page_size) == (31, 2, 10)
    entry = page.orders[0]
    assert entry.order_id == "o-1" and entry.num_recipients == 2 and entry.sender == "ACME"
    assert entry.create_time == datetime(2025, 1, 15, 10, 30, tzinfo=ROME)
    assert entry.schedule_time is None


# --- transport settings -------------------------------------------------------------------


def test_timeout_and_verify_are_passed_on_every_call(gw, monkeypatch):
    # With trust_env on, requests would replace verify=True by this bundle.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/tmp/evil-ca.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    client = SmsRestClient(BASE, USERNAME, PASSWORD, timeout=(2.5, 9.0))
    add_login(gw)
    gw.add(responses.POST, SMS_URL, json=SEND_OK, status=201)
    gw.add(responses.GET, SMS_URL + "/ord-1", json={"recipients": []})
    gw.add(responses.DELETE, SMS_URL + "/ord-1", json={})
    gw.add(responses.GET, BASE + "status", json={"sms": []})
    gw.add(responses.GET, BASE + "smshistory", json={"smshistory": []})
    send(client)
    client.get_order("ord-1")
    client.cancel("ord-1")
    client.get_status()
    client.get_history(datetime(2025, 1, 1, tzinfo=UTC))
    assert len(gw.calls) == 6
    for call in gw.calls:
        kwargs = call.request.req_kwargs
        assert kwargs["timeout"] == (2.5, 9.0)
        assert kwargs["verify"] is True
        assert not kwargs.get("proxies")


def test_custom_ca_bundle_is_passed(gw):
    client = SmsRestClient(BASE, USERNAME, PASSWORD, verify="/etc/ssl/private-ca.pem")
    add_login(gw)
    client.login()
    assert gw.calls[0].request.req_kwargs["verify"] == "/etc/ssl/private-ca.pem"


# --- logging ------------------------------------------------------------------------------


def test_logs_have_method_path_status_and_no_secret(gw, client, caplog):
    caplog.set_level(logging.DEBUG)
    add_login(gw)
    gw.add(responses.POST, SMS_URL, status=401)
    gw.add(responses.POST, SMS_URL, status=400, json={"error_message": f"bad {SESSION_KEY}"})
    with pytest.raises(GatewayRejected):
        send(client)
    gw.replace(responses.GET, LOGIN_URL, status=404, body=PASSWORD)
    with pytest.raises(AuthenticationError):
        client.login()
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("django_smsrest")]
    assert "GET login -> 200" in messages
    assert "POST sms -> 401" in messages
    assert "POST sms -> 400" in messages
    assert "GET login -> 404" in messages
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORD not in everything
    assert SESSION_KEY not in everything
    assert "password=" not in everything


def test_urllib3_debug_lines_are_redacted(client, caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3")
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        HOST,
        443,
        "GET",
        f"/API/v1.0/REST/login?username={USERNAME}&password={PASSWORD}",
        "HTTP/1.1",
        200,
        None,
    )
    text = caplog.records[-1].getMessage()
    assert PASSWORD not in text
    assert "password=***" in text
