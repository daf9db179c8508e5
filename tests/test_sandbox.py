"""The sandbox gateway, over real HTTP on an ephemeral loopback port.

Time-dependent behaviour (delivery progression, session idling, schedules) is driven by the
sandbox clock (``advance``) with a long ``step``, so no test depends on how fast the machine
is; the one test that lets real time pass waits for a state with a deadline and asserts
nothing about durations.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from django_smsrest.client import SmsRestClient
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import NotSentError
from django_smsrest.sandbox import TEST_NUMBERS, SandboxState
from django_smsrest.sandbox.config import SandboxConfig
from django_smsrest.segments import count_segments
from django_smsrest.testing.sandbox import (
    SandboxServer,
    make_self_signed_cert,
    run_sandbox,
    smsrest_sandbox,  # noqa: F401 (fixture under test)
    smsrest_sandbox_factory,  # noqa: F401 (fixture under test)
    smsrest_sandbox_settings,  # noqa: F401 (fixture under test)
    start_sandbox_process,
    tls_unavailable_reason,
)

ROME = ZoneInfo("Europe/Rome")
PASSWORD = "pw-Secret-7d1f"
STEP = 10.0  # seconds per delivery state; tests move the sandbox clock instead of sleeping
TIMEOUT = 10


class Client:
    """A minimal gateway client: keep-alive session, login, the auth headers."""

    def __init__(self, sandbox: SandboxServer, *, token: bool = False) -> None:
        self.url = sandbox.base_url
        self.http = requests.Session()
        response = self.http.get(
            self.url + ("token" if token else "login"),
            params={"username": sandbox.username, "password": sandbox.password},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        self.user_key, self.key = response.text.split(";")
        self.key_header = "Access_token" if token else "Session_key"

    @property
    def headers(self) -> dict[str, str]:
        return {"user_key": self.user_key, self.key_header: self.key}

    def send(self, timeout: Any = TIMEOUT, **fields: Any) -> requests.Response:
        body = {"message_type": "N", "message": "Hello world!", "recipient": ["+393471234567"]}
        body.update(fields)
        return self.post_raw(json.dumps(body).encode(), timeout=timeout)

    def post_raw(self, data: bytes, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, "Content-Type": "application/json"}
        kwargs.setdefault("timeout", TIMEOUT)
        return self.http.post(self.url + "sms", data=data, headers=headers, **kwargs)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(self.url + path, params=params, headers=self.headers, timeout=TIMEOUT)

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(self.url + path, headers=self.headers, timeout=TIMEOUT)

    def states(self, order_id: str) -> list[str]:
        response = self.get(f"sms/{order_id}")
        assert response.status_code == 200, response.text
        return [r["status"] for r in response.json()["recipients"]]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    # Sessions live a day here, so that tests can move the clock by hours; the idle expiry
    # has its own tests with their own sandboxes.
    with run_sandbox(password=PASSWORD, step=STEP, seed=1, session_idle=86_400) as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Client:
    return Client(sandbox)


def rome(delta: timedelta) -> datetime:
    return datetime.now(ROME).replace(microsecond=0) + delta


def credits(client: Client) -> dict[str, int]:
    data = client.get("status").json()
    return {item["type"]: item["quantity"] for item in data["sms"]}


# --- authentication --------------------------------------------------------------------------


def test_login_answers_user_key_and_session_key_as_text(sandbox: SandboxServer) -> None:
    response = requests.get(
        sandbox.base_url + "login",
        params={"username": sandbox.username, "password": PASSWORD},
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    user_key, session_key = response.text.split(";")
    assert user_key and session_key and user_key != session_key
    assert sandbox.snapshot()["logins"] == 1


def test_login_and_token_accept_http_basic(sandbox: SandboxServer) -> None:
    for endpoint in ("login", "token"):
        response = requests.get(
            sandbox.base_url + endpoint, auth=(sandbox.username, PASSWORD), timeout=TIMEOUT
        )
        assert response.status_code == 200
        assert len(response.text.split(";")) == 2


@pytest.mark.parametrize(
    ("params", "auth"),
    [
        ({"username": "sandbox", "password": "wrong"}, None),
        ({"username": "someone", "password": PASSWORD}, None),
        (None, ("sandbox", "wrong")),
    ],
)
@pytest.mark.parametrize("endpoint", ["login", "token"])
def test_wrong_credentials_are_404(
    sandbox: SandboxServer, endpoint: str, params: dict[str, str] | None, auth: Any
) -> None:
    response = requests.get(sandbox.base_url + endpoint, params=params, auth=auth, timeout=TIMEOUT)

    assert response.status_code == 404
    assert sandbox.snapshot()["logins"] == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Session_key": "__from_login__"},
        {"user_key": "__user_key__"},
        {"user_key": "__user_key__", "Session_key": "forged"},
        {"user_key": "__user_key__", "Access_token": "forged"},
    ],
)
def test_missing_or_wrong_keys_are_401(
    sandbox: SandboxServer, client: Client, headers: dict[str, str]
) -> None:
    real = {"__from_login__": client.key, "__user_key__": client.user_key}
    headers = {name: real.get(value, value) for name, value in headers.items()}

    for method, path in (("GET", "status"), ("POST", "sms"), ("GET", "sms/x")):
        response = requests.request(
            method, sandbox.base_url + path, headers=headers, json={}, timeout=TIMEOUT
        )
        assert response.status_code == 401, (method, path)
        assert "user_key" in response.json()["error_message"]
    assert sandbox.orders() == []


def test_session_idles_out_and_every_call_renews_it() -> None:
    with run_sandbox(session_idle=100) as sandbox:
        client = Client(sandbox)
        for _ in range(3):  # 3 x 60 s > 100 s in all, but never 100 s without a call
            sandbox.advance(60)
            assert client.get("status").status_code == 200
        sandbox.advance(101)
        assert client.get("status").status_code == 401
        sandbox.advance(0)
        assert client.get("status").status_code == 401  # an expired key stays expired
        assert Client(sandbox).get("status").status_code == 200  # a new login works


def test_access_token_never_expires() -> None:
    with run_sandbox(session_idle=1) as sandbox:
        session_client, token_client = Client(sandbox), Client(sandbox, token=True)
        sandbox.advance(365 * 24 * 3600)

        assert session_client.get("status").status_code == 401
        assert token_client.get("status").status_code == 200
        assert token_client.send().status_code == 201
        assert sandbox.snapshot()["tokens"] == 1


def test_header_names_match_case_insensitively_and_odd_spellings_are_recorded(
    sandbox: SandboxServer, client: Client
) -> None:
    headers = {"USER_KEY": client.user_key, "session_key": client.key}

    response = requests.get(sandbox.base_url + "status", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 200
    assert sandbox.snapshot()["noncanonical_headers"] == ["USER_KEY", "session_key"]


def test_checksession_reports_without_renewing(sandbox: SandboxServer) -> None:
    sandbox.configure(session_idle=100)
    client = Client(sandbox)
    sandbox.advance(60)
    assert client.get("checksession").text == "true"
    sandbox.advance(60)  # 120 s since the last renewing call
    assert client.get("checksession").text == "false"


# --- POST sms: success -----------------------------------------------------------------------


def test_post_sms_answers_201_with_the_documented_body(
    sandbox: SandboxServer, client: Client
) -> None:
    response = client.send(
        order_id="order-1", recipient=["+393471234567", "+393471234568"], returnRemaining=True
    )

    assert response.status_code == 201
    body = response.json()
    assert body["result"] == "OK"
    assert body["order_id"] == "order-1"
    assert body["total_sent"] == 2
    assert body["remaining_credits"] == 100_000 - 2
    assert body["internal_order_id"]
    [order] = sandbox.orders()
    assert order["order_id"] == "order-1"
    assert order["recipients"] == ["+393471234567", "+393471234568"]
    assert (order["message"], order["message_type"], order["encoding"]) == (
        "Hello world!",
        "N",
        "gsm",
    )
    assert order["posts"] == 1


def test_post_sms_without_order_id_gets_a_generated_one(client: Client) -> None:
    body = client.send().json()

    assert re.fullmatch(r"[0-9a-f]{32}", body["order_id"])
    assert "remaining_credits" not in body
    assert client.get(f"sms/{body['order_id']}").status_code == 200


def test_credits_decrease_by_segments_times_recipients(client: Client) -> None:
    text = "x" * 200  # 2 parts in GSM-7
    assert count_segments(text, "gsm").segments == 2
    before = credits(client)

    body = client.send(
        message=text, recipient=["+393471234561", "+393471234562", "+393471234563"]
    ).json()
    # returnCredits switches total_sent from messages to credits.
    assert body["total_sent"] == 3
    body = client.send(message=text, recipient=["+393471234564"], returnCredits=True).json()
    assert body["total_sent"] == 2

    after = credits(client)
    assert before["N"] - after["N"] == 2 * 3 + 2
    assert after["L"] == before["L"] and after["LL"] == before["LL"]


def test_skebby_codes_share_the_internal_credit_balances(
    sandbox: SandboxServer, client: Client
) -> None:
    client.send(message_type="GP")
    client.send(message_type="SI")

    internal = client.get("status").json()
    sandbox.configure(brand="skebby")
    aliased = client.get("status", typeAliases="true").json()
    quantities = {item["type"]: item["quantity"] for item in internal["sms"] + aliased["sms"]}
    assert quantities["N"] == quantities["GP"] == 100_000 - 1
    assert quantities["LL"] == quantities["SI"] == 100_000 - 1
    assert quantities["L"] == quantities["TI"] == 100_000


@pytest.mark.parametrize(
    "fields",
    [
        {"recipient": ["00393471234567"]},
        {"recipient": ["+" + "1" * 15]},
        {"recipient": ["+1234567"]},
        {"sender": "ACME Shop11"},
        {"sender": "+393471234567"},
        {"sender": "1" * 16},
        {"sender": None},
        {"message_type": "LL", "message": "x" * 160},
        {"message_type": "SI", "message": "è" * 160, "sender": ""},
        {"message_type": "L"},
        {"message_type": "TI"},
        {"message": "x" * 1000},
        {"message": "Ciao \u2019 😀" * 50, "encoding": "ucs2"},
        {"message": "{[€]}" * 200},
    ],
    ids=repr,
)
def test_valid_variants_are_accepted(client: Client, fields: dict[str, Any]) -> None:
    response = client.send(**fields)

    assert response.status_code == 201, response.text


def test_allow_invalid_recipients_drops_the_invalid_ones(
    sandbox: SandboxServer, client: Client
) -> None:
    response = client.send(
        recipient=["+393471234567", "347 123 4567", "+39abc"], allowInvalidRecipients=True
    )

    assert response.status_code == 201
    assert response.json()["total_sent"] == 1
    [order] = sandbox.orders()
    assert order["recipients"] == ["+393471234567"]
    assert order["dropped_recipients"] == ["347 123 4567", "+39abc"]


def test_non_gsm_text_with_gsm_encoding_can_be_accepted_by_configuration(
    sandbox: SandboxServer, client: Client
) -> None:
    assert client.send(message="Perché \u2019quote\u2019").status_code == 400
    sandbox.configure(non_gsm="accept")

    assert client.send(message="Perché \u2019quote\u2019").status_code == 201
    assert sandbox.orders()[0]["encoding"] == "gsm"


# --- POST sms: validation --------------------------------------------------------------------

_FUTURE = "20991231235900"

INVALID = [
    ("empty message", {"message": ""}, "EMPTY_MESSAGE", "empty"),
    ("blank message", {"message": "   "}, "EMPTY_MESSAGE", "empty"),
    ("no message", {"message": None}, "MISSING_FIELD", "message is missing"),
    ("gsm too long", {"message": "x" * 1001}, "MESSAGE_TOO_LONG", "1001 characters"),
    ("ucs2 too long", {"message": "é" * 451, "encoding": "ucs2"}, "MESSAGE_TOO_LONG", "450"),
    ("non-GSM as gsm", {"message": "Ciao \u2019"}, "NON_GSM_CHARACTERS", "ucs2"),
    ("bad encoding", {"encoding": "utf8"}, "INVALID_ENCODING", "'gsm' or 'ucs2'"),
    ("unknown type", {"message_type": "XX"}, "UNKNOWN_MESSAGE_TYPE", "GP"),
    ("no type", {"message_type": None}, "MISSING_FIELD", "message_type"),
    ("LL two parts", {"message_type": "LL", "message": "x" * 161}, "TOO_MANY_SEGMENTS", "160"),
    ("SI two parts", {"message_type": "SI", "message": "x" * 161}, "TOO_MANY_SEGMENTS", "160"),
    ("no recipient", {"recipient": None}, "MISSING_FIELD", "recipient"),
    ("empty recipients", {"recipient": []}, "NO_RECIPIENTS", "non-empty list"),
    ("recipient string", {"recipient": "+393471234567"}, "NO_RECIPIENTS", "list"),
    ("national number", {"recipient": ["3471234567"]}, "INVALID_RECIPIENT", "'+'"),
    ("spaces", {"recipient": ["+39 347 1234567"]}, "INVALID_RECIPIENT", "without spaces"),
    ("too short", {"recipient": ["+12345"]}, "INVALID_RECIPIENT", "6 to 15 digits"),
    ("too long", {"recipient": ["+" + "1" * 16]}, "INVALID_RECIPIENT", "6 to 15 digits"),
    ("one bad of two", {"recipient": ["+393471234567", "+39x"]}, "INVALID_RECIPIENT", "+39x"),
    ("all dropped", {"recipient": ["x"], "allowInvalidRecipients": True}, "NO_RECIPIENTS", "None"),
    ("sender 12 chars", {"sender": "ABCDEFGHIJKL"}, "INVALID_SENDER", "11"),
    ("sender 17 digits", {"sender": "+" + "1" * 16}, "INVALID_SENDER", "16"),
    ("sender symbols", {"sender": "Shop!"}, "INVALID_SENDER", "alphanumeric"),
    ("sender on LL", {"message_type": "LL", "sender": "ACME"}, "SENDER_NOT_ALLOWED", "LL"),
    ("sender on SI", {"message_type": "SI", "sender": "+3934"}, "SENDER_NOT_ALLOWED", "SI"),
    ("bad date", {"scheduled_delivery_time": "tomorrow"}, "INVALID_DATE", "yyyyMMddHHmmss"),
    ("bad date digits", {"scheduled_delivery_time": "2099123"}, "INVALID_DATE", "ISO 8601"),
    (
        "bad timezone",
        {"scheduled_delivery_time": _FUTURE, "scheduled_delivery_timezone": "Mars/Base"},
        "INVALID_TIMEZONE",
        "IANA",
    ),
    ("order_id 33", {"order_id": "a" * 33}, "INVALID_ORDER_ID", "32"),
    ("order_id space", {"order_id": "my order"}, "INVALID_ORDER_ID", "letters, digits"),
    ("order_id number", {"order_id": 12}, "INVALID_ORDER_ID", "32"),
    ("bad flag", {"returnCredits": "yes"}, "INVALID_PARAMETER", "true or false"),
]


@pytest.mark.parametrize(
    ("fields", "code", "phrase"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_send_is_400_with_a_readable_reason(
    sandbox: SandboxServer, client: Client, fields: dict[str, Any], code: str, phrase: str
) -> None:
    before = credits(client)

    response = client.send(**fields)

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["result"] == "KO"
    assert body["code"] == code
    assert phrase in body["error_message"]
    assert sandbox.orders() == []
    assert credits(client) == before


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_400(client: Client, raw: bytes) -> None:
    response = client.post_raw(raw)

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_JSON"


def test_too_many_recipients_is_400(sandbox: SandboxServer, client: Client) -> None:
    sandbox.configure(max_recipients=3)
    numbers = [f"+3934712345{n:02d}" for n in range(4)]

    response = client.send(recipient=numbers)

    assert response.status_code == 400
    assert response.json()["code"] == "TOO_MANY_RECIPIENTS"
    assert "limit is 3" in response.json()["error_message"]
    assert client.send(recipient=numbers[:3]).status_code == 201


def test_not_enough_credit_is_400_and_charges_nothing() -> None:
    with run_sandbox(credits={"LL": 3}) as sandbox:
        client = Client(sandbox)
        numbers = [f"+3934712345{n:02d}" for n in range(4)]

        response = client.send(message_type="LL", recipient=numbers)

        assert response.status_code == 400
        assert response.json()["code"] == "NOT_ENOUGH_CREDIT"
        assert "needs 4 credits" in response.json()["error_message"]
        assert credits(client)["LL"] == 3
        assert client.send(message_type="LL", recipient=numbers[:3]).status_code == 201
        assert credits(client)["LL"] == 0


# --- scheduling ------------------------------------------------------------------------------


def _naive(when: datetime) -> datetime:
    return when.replace(tzinfo=None)


SCHEDULE_FORMATS: dict[str, Any] = {
    "yyyyMMddHHmmss": lambda w: (w.strftime("%Y%m%d%H%M%S"), None),
    "yyyy-MM-dd HH:mm": lambda w: (w.strftime("%Y-%m-%d %H:%M"), None),
    "yyyy-MM-dd HH:mm:ss": lambda w: (w.strftime("%Y-%m-%d %H:%M:%S"), None),
    "yyyy-MM-dd HH:mm.0": lambda w: (w.strftime("%Y-%m-%d %H:%M") + ".0", None),
    "isoformat naive": lambda w: (_naive(w).isoformat(), None),
    "isoformat with micros": lambda w: (_naive(w).replace(microsecond=5).isoformat(), None),
    "isoformat aware": lambda w: (w.astimezone(ZoneInfo("UTC")).isoformat(), None),
    "naive + timezone": lambda w: (
        _naive(w.astimezone(ZoneInfo("America/New_York"))).isoformat(),
        "America/New_York",
    ),
    "Gson": lambda w: (w.strftime("%b %d, %Y %I:%M:%S %p"), None),
}


@pytest.mark.parametrize("name", list(SCHEDULE_FORMATS))
def test_documented_schedule_formats_are_understood(
    sandbox: SandboxServer, client: Client, name: str
) -> None:
    when = rome(timedelta(days=1)).replace(second=0)
    value, zone = SCHEDULE_FORMATS[name](when)
    fields = {"scheduled_delivery_time": value}
    if zone:
        fields["scheduled_delivery_timezone"] = zone

    response = client.send(**fields)

    assert response.status_code == 201, response.text
    [order] = sandbox.orders()
    stored = datetime.fromisoformat(order["scheduled_delivery_time"])
    assert abs(stored - when) < timedelta(milliseconds=1)
    assert client.states(order["order_id"]) == ["SCHEDULED"]


def test_a_scheduled_order_waits_then_progresses(sandbox: SandboxServer, client: Client) -> None:
    when = rome(timedelta(hours=1))
    order_id = client.send(scheduled_delivery_time=when.strftime("%Y%m%d%H%M%S")).json()[
        "order_id"
    ]

    sandbox.advance(3595)
    assert client.states(order_id) == ["SCHEDULED"]
    sandbox.advance(10)  # 4 to 5 s past the scheduled time: less than one STEP
    assert client.states(order_id) == ["WAITING"]
    sandbox.advance(3 * STEP)
    assert client.states(order_id) == ["DLVRD"]


def test_a_slightly_past_time_is_sent_now_within_the_grace(client: Client) -> None:
    just_now = rome(timedelta(seconds=-5)).strftime("%Y%m%d%H%M%S")

    order_id = client.send(scheduled_delivery_time=just_now).json()["order_id"]

    assert client.states(order_id) == ["WAITING"]


# --- duplicate order ids ---------------------------------------------------------------------


def test_a_repeated_order_id_is_rejected_and_nothing_is_sent_twice(
    sandbox: SandboxServer, client: Client
) -> None:
    first = client.send(order_id="dup-1", message="first")
    second = client.send(order_id="dup-1", message="second")

    assert first.status_code == 201
    assert second.status_code == 400
    assert second.json()["code"] == "DUPLICATE_ORDER_ID"
    assert "already used" in second.json()["error_message"]
    [order] = sandbox.orders()
    assert order["message"] == "first"
    assert sandbox.post_count("dup-1") == 2
    assert order["post_answers"] == [201, 400]
    assert credits(client)["N"] == 100_000 - 1


def test_a_repeated_order_id_can_be_answered_with_the_original(
    sandbox: SandboxServer, client: Client
) -> None:
    sandbox.configure(duplicate_order_id="accept")
    first = client.send(order_id="dup-2", returnRemaining=True)
    second = client.send(order_id="dup-2", message="changed", returnRemaining=True)

    assert second.status_code == 201
    assert second.json() == first.json()
    assert [o["message"] for o in sandbox.orders()] == ["Hello world!"]
    assert sandbox.post_count("dup-2") == 2
    assert credits(client)["N"] == 100_000 - 1


def test_concurrent_posts_of_one_order_id_are_accepted_once(sandbox: SandboxServer) -> None:
    clients = [Client(sandbox) for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    codes: list[int] = []

    def post(client: Client) -> None:
        barrier.wait()
        codes.append(client.send(order_id="race").status_code)

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(codes) == [201] + [400] * 7
    assert len(sandbox.orders()) == 1
    assert sandbox.post_count("race") == 8
    assert credits(clients[0])["N"] == 100_000 - 1


# --- status, cancel ----------------------------------------------------------------------------


def test_get_unknown_order_is_404(client: Client) -> None:
    response = client.get("sms/never-sent")

    assert response.status_code == 404
    assert response.json()["result"] == "KO"


def test_delete_cancels_only_while_scheduled(sandbox: SandboxServer, client: Client) -> None:
    later = rome(timedelta(hours=2)).strftime("%Y%m%d%H%M%S")
    client.send(order_id="sched", scheduled_delivery_time=later)
    client.send(order_id="now")
    client.send(order_id="fires", scheduled_delivery_time=rome(timedelta(minutes=5)).isoformat())
    assert credits(client)["N"] == 100_000 - 3

    assert client.delete("sms/now").json()["code"] == "NOT_SCHEDULED"
    sandbox.advance(600)
    fired = client.delete("sms/fires")  # its time has come: no longer SCHEDULED
    assert (fired.status_code, fired.json()["code"]) == (404, "NOT_SCHEDULED")
    response = client.delete("sms/sched")
    assert response.status_code == 200
    assert response.json() == {"result": "OK"}

    assert client.get("sms/sched").status_code == 404
    assert client.delete("sms/sched").status_code == 404
    assert client.delete("sms/unknown").status_code == 404
    assert credits(client)["N"] == 100_000 - 2  # the cancelled order was refunded
    assert [o["cancelled"] for o in sandbox.orders()] == [True, False, False]


@pytest.mark.parametrize(
    ("message_type", "expected"),
    [
        ("N", ["WAITING", "SENT", "WAIT4DLVR", "DLVRD", "DLVRD"]),
        ("GP", ["WAITING", "SENT", "WAIT4DLVR", "DLVRD", "DLVRD"]),
        ("L", ["WAITING", "SENT", "SENT", "SENT", "SENT"]),
        ("LL", ["WAITING", "SENT", "SENT", "SENT", "SENT"]),
        ("TI", ["WAITING", "SENT", "SENT", "SENT", "SENT"]),
        ("SI", ["WAITING", "SENT", "SENT", "SENT", "SENT"]),
    ],
)
def test_delivery_states_progress_by_type(
    sandbox: SandboxServer, client: Client, message_type: str, expected: list[str]
) -> None:
    order_id = client.send(message_type=message_type).json()["order_id"]
    seen, dates = [], []
    for _ in expected:
        response = client.get(f"sms/{order_id}").json()
        [recipient] = response["recipients"]
        assert response["recipient_number"] == 1
        assert recipient["destination"] == "+393471234567"
        seen.append(recipient["status"])
        dates.append(recipient["delivery_date"])
        sandbox.advance(STEP)

    assert seen == expected
    final = expected.index(expected[-1])
    assert dates[:final] == [""] * final
    assert all(re.fullmatch(r"\d{14}", d) for d in dates[final:])
    # The date is the sandbox time the final state was reached, in the gateway's zone.
    reached = datetime.strptime(dates[-1], "%Y%m%d%H%M%S").replace(tzinfo=ROME)
    created = datetime.fromisoformat(sandbox.orders()[0]["created_at"])
    assert abs(reached - (created + timedelta(seconds=final * STEP))) <= timedelta(seconds=1)


@pytest.mark.parametrize("suffix", sorted(TEST_NUMBERS))
def test_test_numbers_end_in_their_documented_state(
    sandbox: SandboxServer, client: Client, suffix: str
) -> None:
    number = "+3934700" + suffix
    order_id = client.send(recipient=[number, "+393471234567"]).json()["order_id"]

    sandbox.advance(100 * STEP)

    recipients = client.get(f"sms/{order_id}").json()["recipients"]
    assert [r["status"] for r in recipients] == [TEST_NUMBERS[suffix].state, "DLVRD"]
    assert bool(recipients[0]["delivery_date"]) == TEST_NUMBERS[suffix].final


def test_test_numbers_without_delivery_report_types(
    sandbox: SandboxServer, client: Client
) -> None:
    numbers = ["+393470000001", "+393470000005", "+393470000008"]
    order_id = client.send(message_type="L", recipient=numbers).json()["order_id"]

    sandbox.advance(100 * STEP)

    assert client.states(order_id) == ["UNKNRCPT", "SENT", "SENT"]


def test_states_advance_with_real_time_too() -> None:
    with run_sandbox(step=0.05) as sandbox:
        client = Client(sandbox)
        order_id = client.send().json()["order_id"]
        deadline = time.monotonic() + 10
        seen = []
        while time.monotonic() < deadline and (not seen or seen[-1] != "DLVRD"):
            seen.append(client.states(order_id)[0])
            time.sleep(0.01)

    assert seen[-1] == "DLVRD"
    assert seen == sorted(seen, key=["WAITING", "SENT", "WAIT4DLVR", "DLVRD"].index)


# --- status and history ----------------------------------------------------------------------


def test_status_lists_credits_and_money(client: Client) -> None:
    plain = client.get("status").json()
    assert plain["money"] is None
    assert [item["type"] for item in plain["sms"]] == ["N", "L", "LL"]
    assert all(item["quantity"] == 100_000 for item in plain["sms"])

    aliased = client.get("status", getMoney="true", typeAliases="true").json()
    assert aliased["money"] == 1000.0
    assert [item["type"] for item in aliased["sms"]] == ["N", "L", "LL"]


def test_status_aliases_follow_the_configured_brand(
    sandbox: SandboxServer, client: Client
) -> None:
    sandbox.configure(brand="skebby")

    aliased = client.get("status", typeAliases="true").json()

    assert [item["type"] for item in aliased["sms"]] == ["GP", "TI", "SI"]


def test_smshistory_pages_newest_first(sandbox: SandboxServer, client: Client) -> None:
    start = rome(timedelta(minutes=-1)).strftime("%Y%m%d%H%M%S")
    for n in range(3):
        client.send(order_id=f"h{n}", sender="ACME")

    page1 = client.get("smshistory", **{"from": start, "pageSize": 2}).json()
    page2 = client.get("smshistory", **{"from": start, "pageSize": 2, "pageNumber": 2}).json()
    before = client.get("smshistory", **{"from": "20200101000000", "to": start}).json()

    assert page1["total"] == 3
    assert [item["order_id"] for item in page1["smshistory"]] == ["h2", "h1"]
    assert [item["order_id"] for item in page2["smshistory"]] == ["h0"]
    item = page1["smshistory"][0]
    assert (item["message_type"], item["sender"], item["num_recipients"]) == ("N", "ACME", 1)
    assert re.fullmatch(r"\d{14}", item["create_time"])
    assert before["total"] == 0


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "MISSING_FIELD"),
        ({"from": "2024-01-01"}, "INVALID_DATE"),
        ({"from": "20240101"}, "INVALID_DATE"),
        ({"from": "20240101000000", "to": "soon"}, "INVALID_DATE"),
        ({"from": "20240101000000", "pageSize": "0"}, "INVALID_PARAMETER"),
        ({"from": "20240101000000", "timezone": "Nowhere"}, "INVALID_TIMEZONE"),
    ],
)
def test_smshistory_rejects_a_missing_or_malformed_period(
    client: Client, params: dict[str, str], code: str
) -> None:
    response = client.get("smshistory", **params)

    assert response.status_code == 400
    assert response.json()["code"] == code


# --- faults ----------------------------------------------------------------------------------


def test_500_before_acceptance_stores_nothing(sandbox: SandboxServer, client: Client) -> None:
    sandbox.configure(error_next=1)

    failed = client.send(order_id="e1")
    retried = client.send(order_id="e1")

    assert failed.status_code == 500
    assert retried.status_code == 201
    assert [o["order_id"] for o in sandbox.orders()] == ["e1"]
    assert sandbox.order("e1")["post_answers"] == [500, 201]
    assert credits(client)["N"] == 100_000 - 1


def test_500_after_acceptance_keeps_the_order(sandbox: SandboxServer, client: Client) -> None:
    sandbox.configure(error_after_next=1)

    response = client.send(order_id="e2")

    assert response.status_code == 500
    assert client.get("sms/e2").status_code == 200  # reconciliation finds it
    order = sandbox.order("e2")
    assert order is not None and order["fault"] == "error_after"
    assert sandbox.post_count("e2") == 1


def test_read_timeout_after_acceptance_leaves_the_order_stored(
    sandbox: SandboxServer, client: Client
) -> None:
    sandbox.configure(timeout_after_next=1, timeout_seconds=30)

    with pytest.raises(requests.exceptions.ReadTimeout):
        client.send(order_id="t1", timeout=(5, 0.3))

    order = sandbox.order("t1")
    assert order is not None and order["post_answers"] == ["timeout"]
    # The next call (on a new connection) works and sees the order.
    assert client.get("sms/t1").status_code == 200


def test_dropped_connection_after_acceptance(sandbox: SandboxServer, client: Client) -> None:
    sandbox.configure(drop_after_next=1)

    with pytest.raises(requests.exceptions.ConnectionError):
        client.send(order_id="d1")

    order = sandbox.order("d1")
    assert order is not None and order["post_answers"] == ["drop"]
    assert client.get("sms/d1").status_code == 200


def test_429_with_retry_after(sandbox: SandboxServer, client: Client) -> None:
    sandbox.configure(rate_limit_next=2, retry_after=7)

    answers = [client.send(order_id="r1") for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 201]
    assert answers[0].headers["Retry-After"] == "7"
    assert answers[0].json()["code"] == "RATE_LIMITED"
    assert len(sandbox.orders()) == 1
    assert sandbox.post_count("r1") == 3


def test_forced_401_and_session_expiry(sandbox: SandboxServer, client: Client) -> None:
    sandbox.configure(unauthorized_next=1)
    assert client.send().status_code == 401
    assert client.send().status_code == 201  # the key itself is still valid

    sandbox.configure(expire_sessions=True)
    assert client.send().status_code == 401
    assert client.get("status").status_code == 401
    assert Client(sandbox).send().status_code == 201  # a fresh login works


def test_fault_scope_all_hits_other_endpoints(sandbox: SandboxServer, client: Client) -> None:
    sandbox.configure(error_next=1)
    assert client.get("status").status_code == 200  # default scope: only POST sms

    sandbox.configure(fault_scope="all")
    assert client.get("status").status_code == 500
    sandbox.configure(rate_limit_next=1)
    assert client.get("sms/x").status_code == 429


def test_fault_rates_are_reproducible_with_a_seed() -> None:
    def run() -> list[int]:
        with run_sandbox(seed=42, error_rate=0.3, error_after_rate=0.2, drop_after_rate=0.1) as sb:
            client = Client(sb)
            codes = []
            for _ in range(40):
                try:
                    codes.append(client.send().status_code)
                except requests.exceptions.ConnectionError:
                    codes.append(0)
            return codes

    first, second = run(), run()

    assert first == second
    assert {0, 500, 201} <= set(first)


def test_latency_draws_within_the_configured_range() -> None:
    state = SandboxState(SandboxConfig.from_options(latency="20-80", seed=3))
    draws = [state.draw_latency() for _ in range(200)]
    assert all(0.020 <= d <= 0.080 for d in draws)
    assert len(set(draws)) > 100

    state.configure(latency=15)
    assert state.draw_latency() == 0.015
    state.reset()
    assert state.draw_latency() == 0.0


def test_latency_keeps_answers_correct(sandbox: SandboxServer, client: Client) -> None:
    sandbox.configure(latency=[1, 5])

    assert client.send().status_code == 201
    assert client.get("status").status_code == 200


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        ({"error_rate": 2}, "between 0 and 1"),
        ({"error_after_rate": 0.6, "drop_after_rate": 0.6}, "must not exceed 1"),
        ({"latency": "80-20"}, "above the maximum"),
        ({"duplicate_order_id": "maybe"}, "reject, accept"),
        ({"credits": {"ZZ": 1}}, "unknown message type"),
        ({"no_such_option": 1}, "unknown sandbox option"),
        ({"password": "x"}, "only be set when the sandbox starts"),
    ],
)
def test_control_endpoint_rejects_bad_options_readably(
    sandbox: SandboxServer, options: dict[str, Any], phrase: str
) -> None:
    response = requests.post(sandbox.root_url + "_sandbox/config", json=options, timeout=TIMEOUT)

    assert response.status_code == 400
    assert phrase in response.json()["error_message"]


def test_control_endpoints_configure_reset_and_advance_over_http(
    sandbox: SandboxServer, client: Client
) -> None:
    control = sandbox.root_url + "_sandbox/"
    config = requests.post(control + "config", json={"error_next": 1}, timeout=TIMEOUT).json()
    assert config["error_next"] == 1
    assert "password" not in config and PASSWORD not in json.dumps(config)
    assert client.send().status_code == 500
    order_id = client.send().json()["order_id"]

    requests.post(control + "advance", json={"seconds": 3 * STEP}, timeout=TIMEOUT)
    assert client.states(order_id) == ["DLVRD"]

    requests.post(control + "config", json={"error_rate": 1}, timeout=TIMEOUT)
    assert requests.post(control + "reset", timeout=TIMEOUT).status_code == 200
    assert sandbox.orders() == []
    assert client.send().status_code == 201  # faults are off, the session survived
    assert requests.get(control + "config", timeout=TIMEOUT).json()["error_rate"] == 0


# --- inspection ------------------------------------------------------------------------------


def test_orders_json_counts_posts_logins_and_requests(
    sandbox: SandboxServer, client: Client
) -> None:
    client.send(order_id="a")
    client.send(order_id="a")
    client.get("sms/a")

    data = requests.get(sandbox.root_url + "_sandbox/orders", timeout=TIMEOUT).json()

    assert data["posts_total"] == 2
    assert data["post_counts"] == {"a": 2}
    assert data["logins"] == 1
    assert data["requests"] == {"GET login": 1, "POST sms": 2, "GET sms/{order_id}": 1}
    [order] = data["orders"]
    assert order["states"] == [
        {"destination": "+393471234567", "status": "WAITING", "delivery_date": ""}
    ]
    one = requests.get(sandbox.root_url + "_sandbox/orders/a", timeout=TIMEOUT).json()
    assert one["posts"] == 2 and one["order"]["order_id"] == "a"


def test_html_page_escapes_messages_and_shows_no_secret(
    sandbox: SandboxServer, client: Client
) -> None:
    token_client = Client(sandbox, token=True)
    client.send(message="<script>alert('x')</script> & co", sender="ACME")
    client.send(message="second one")

    page = requests.get(sandbox.page_url, timeout=TIMEOUT)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in html
    assert "<script>alert" not in html  # the page's own reload script is the only one
    assert html.count("<script>") == 1
    assert html.index("second one") < html.index("&lt;script&gt;")  # newest first
    for secret in (PASSWORD, client.user_key, client.key, token_client.key):
        assert secret not in html
        assert secret not in json.dumps(sandbox.snapshot())


def test_verbose_log_lines_never_contain_the_password(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "django_smsrest.sandbox", "--port", "0", "--verbose"]
    command += ["--password", PASSWORD]
    log = tmp_path / "stderr.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, text=True)
    try:
        base_url = process.stdout.readline().strip()
        for password in (PASSWORD, PASSWORD + "x"):
            params = {"username": "sandbox", "password": password}
            requests.get(base_url + "login", params=params, timeout=TIMEOUT)
        # Malformed requests (the stdlib would log their request line, query and all).
        port = int(base_url.split(":")[2].split("/")[0])
        for raw in (
            f"GET /API/v1.0/REST/login?password={PASSWORD} extra HTTP/1.1\r\n\r\n",
            f"GET /API/v1.0/REST/login?password={PASSWORD} HTTP/1.1\r\nno colon\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
                sock.sendall(raw.encode())
                assert sock.recv(4096).startswith(b"HTTP/1.1 400 ")
        # A handler logs its line just after answering: give the last one a moment to land
        # before stopping the server (the test ran flaky under load without this wait).
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            text = log.read_text()
            if text.count(" 400") >= 2 and '"GET /API/v1.0/REST/login" 404' in text:
                break
            time.sleep(0.02)
    finally:
        process.terminate()
        process.communicate(timeout=TIMEOUT)
    stderr = log.read_text()

    assert '"GET /API/v1.0/REST/login" 200' in stderr
    assert '"GET /API/v1.0/REST/login" 404' in stderr
    assert stderr.count(" 400") == 2
    assert "Traceback" not in stderr
    assert PASSWORD not in stderr
    assert process.returncode == 0


# --- the command line and the test helpers -------------------------------------------------


def test_cli_prints_one_base_url_line_and_stops_cleanly() -> None:
    sandbox = start_sandbox_process(step=STEP, password=PASSWORD, seed=5)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/API/v1\.0/REST/", sandbox.base_url)
        client = Client(sandbox)  # type: ignore[arg-type]
        sandbox.configure(error_after_next=1)
        assert client.send(order_id="p1").status_code == 500
        assert sandbox.post_count("p1") == 1
        assert sandbox.order("p1")["fault"] == "error_after"
        sandbox.advance(STEP)
        assert client.states("p1") == ["SENT"]
        with pytest.raises(ValueError, match="between 0 and 1"):
            sandbox.configure(error_rate=5)
        sandbox.reset()
        assert sandbox.orders() == []
    finally:
        code = sandbox.stop()
    assert code == 0
    assert sandbox.process.stdout is not None and sandbox.process.stdout.closed


def test_cli_runs_without_a_django_project_and_prints_nothing_else_on_stdout() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    process = subprocess.Popen(
        [sys.executable, "-m", "django_smsrest.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = process.stdout.readline()
    requests.get(
        line.strip() + "login",
        params={"username": "sandbox", "password": "sandbox"},
        timeout=TIMEOUT,
    )
    process.terminate()
    rest, _ = process.communicate(timeout=TIMEOUT)

    assert line.endswith("/API/v1.0/REST/\n")
    assert rest == ""
    assert process.returncode == 0


def test_cli_rejects_a_bad_option_with_a_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "django_smsrest.sandbox", "--port", "0", "--error-rate", "2"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )

    assert result.returncode == 2
    assert "error_rate is a share of calls between 0 and 1" in result.stderr
    assert result.stdout == ""


def test_smsrest_sandbox_fixture(smsrest_sandbox: SandboxServer) -> None:  # noqa: F811
    client = Client(smsrest_sandbox)

    assert client.send(order_id="fx").status_code == 201
    assert smsrest_sandbox.post_count("fx") == 1
    assert smsrest_sandbox.smsrest_settings()["BASE_URL"] == smsrest_sandbox.base_url


def test_smsrest_sandbox_factory_fixture(
    smsrest_sandbox_factory: Any,  # noqa: F811
) -> None:
    first = smsrest_sandbox_factory(credits=5)
    second = smsrest_sandbox_factory(username="other", password="pw2")

    assert first.base_url != second.base_url
    assert credits(Client(first)) == {"N": 5, "L": 5, "LL": 5}
    assert Client(second).send().status_code == 201
    assert first.orders() == [] and len(second.orders()) == 1


def test_smsrest_sandbox_settings_fixture_points_the_app_at_it(
    smsrest_sandbox_settings: SandboxServer,  # noqa: F811
) -> None:
    conf = get_settings(require_credentials=True)

    assert conf.base_url == smsrest_sandbox_settings.base_url
    assert (conf.username, conf.password) == ("sandbox", "sandbox")
    assert conf.backend == "django_smsrest.backends.rest.RestBackend"
    assert conf.default_region == "IT"  # the project's other keys are kept


def test_stop_closes_idle_keep_alive_connections() -> None:
    sandbox = run_sandbox()
    client = Client(sandbox)
    assert client.get("status").status_code == 200  # a keep-alive connection is now open

    sandbox.stop()
    sandbox.stop()  # idempotent

    with pytest.raises(requests.exceptions.ConnectionError):
        client.get("status")


# --- HTTPS ----------------------------------------------------------------------------------

_NO_TLS = tls_unavailable_reason()
needs_tls = pytest.mark.skipif(_NO_TLS is not None, reason=_NO_TLS or "")


@pytest.fixture
def tls_sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(tls=True, step=STEP, password=PASSWORD) as server:
        yield server


@needs_tls
def test_tls_sandbox_answers_login_and_post_with_verification_on(
    tls_sandbox: SandboxServer,
) -> None:
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+/API/v1\.0/REST/", tls_sandbox.base_url)
    assert tls_sandbox.ca_bundle and os.path.isfile(tls_sandbox.ca_bundle)

    # verify per request: a Session's own ``verify`` loses to $REQUESTS_CA_BUNDLE.
    ca = tls_sandbox.ca_bundle
    with requests.Session() as http:
        login = http.get(
            tls_sandbox.base_url + "login",
            params={"username": tls_sandbox.username, "password": PASSWORD},
            verify=ca,
            timeout=TIMEOUT,
        )
        assert login.status_code == 200, login.text
        user_key, session_key = login.text.split(";")
        headers = {"user_key": user_key, "Session_key": session_key}
        for n in range(3):  # one keep-alive TLS connection carries every call
            sent = http.post(
                tls_sandbox.base_url + "sms",
                json={
                    "message": "over TLS",
                    "message_type": "N",
                    "recipient": ["+393471234567"],
                    "order_id": f"tls{n}",
                },
                headers=headers,
                verify=ca,
                timeout=TIMEOUT,
            )
            assert sent.status_code == 201, sent.text
            assert sent.json()["result"] == "OK"
    assert [tls_sandbox.post_count(f"tls{n}") for n in range(3)] == [1, 1, 1]
    assert tls_sandbox.snapshot()["requests"] == {"GET login": 1, "POST sms": 3}
    # The control pages are HTTPS too, checked against the same certificate.
    page = urllib.request.urlopen(
        tls_sandbox.page_url, timeout=TIMEOUT, context=tls_sandbox.ssl_context()
    )
    assert page.status == 200
    assert tls_sandbox.smsrest_settings()["VERIFY_TLS"] == tls_sandbox.ca_bundle


@needs_tls
def test_tls_sandbox_keeps_one_connection_alive(tls_sandbox: SandboxServer) -> None:
    context = tls_sandbox.ssl_context()
    assert context is not None
    port = int(tls_sandbox.base_url.split(":")[2].split("/")[0])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        stream = tls.makefile("rb")
        for _ in range(3):
            tls.sendall(b"GET /API/v1.0/REST/status HTTP/1.1\r\nHost: x\r\n\r\n")
            status = stream.readline()
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            stream.read(length)
            assert status.startswith(b"HTTP/1.1 401 ")  # no keys: refused, connection kept
        stream.close()


@needs_tls
def test_a_client_that_does_not_trust_the_certificate_gets_an_ssl_error(
    tls_sandbox: SandboxServer,
) -> None:
    params = {"username": tls_sandbox.username, "password": PASSWORD}
    # verify=True: the system's CA bundle, which does not hold the throwaway certificate.
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(tls_sandbox.base_url + "login", params=params, timeout=TIMEOUT)
    # Trusting another certificate is no better.
    with tempfile.TemporaryDirectory() as folder:
        other = make_self_signed_cert(folder)
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(
                tls_sandbox.base_url + "login", params=params, verify=other.cert, timeout=TIMEOUT
            )
    # Plain HTTP to the TLS port is not answered as if it were the API either.
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(
            tls_sandbox.base_url.replace("https://", "http://") + "login",
            params=params,
            timeout=TIMEOUT,
        )
    assert tls_sandbox.snapshot()["logins"] == 0

    # The app's client, without the bundle, refuses too: nothing is sent.
    client = SmsRestClient(tls_sandbox.base_url, tls_sandbox.username, PASSWORD, timeout=5)
    try:
        with pytest.raises(NotSentError, match=r"(?i)certificate"):
            client.send_sms(
                "never sent", ["+393471234567"], message_type="N", order_id="untrusted"
            )
    finally:
        client.close()
    assert tls_sandbox.post_count("untrusted") == 0


@needs_tls
def test_the_app_client_sends_through_the_tls_sandbox_with_its_ca_bundle(
    tls_sandbox: SandboxServer,
) -> None:
    client = SmsRestClient(
        tls_sandbox.base_url,
        tls_sandbox.username,
        PASSWORD,
        verify=tls_sandbox.ca_bundle or True,
        timeout=(2.0, 5.0),
    )
    try:
        for n in range(3):
            result = client.send_sms(
                "Ciao over TLS", ["+393471234567"], message_type="N", order_id=f"app{n}"
            )
            assert result.order_id == f"app{n}"
        assert client.get_status().credits["N"] > 0
    finally:
        client.close()
    snapshot = tls_sandbox.snapshot()
    assert snapshot["logins"] == 1
    assert snapshot["post_counts"] == {"app0": 1, "app1": 1, "app2": 1}


@needs_tls
@pytest.mark.django_db
def test_the_rest_backend_sends_through_the_tls_sandbox_with_verify_tls_set(
    tls_sandbox: SandboxServer,
) -> None:
    from django.test import override_settings

    from django_smsrest import services
    from django_smsrest.backends import rest
    from django_smsrest.models import Status
    from tests.settings import SMSREST

    settings = {
        **SMSREST,
        **tls_sandbox.smsrest_settings(BACKEND="django_smsrest.backends.rest.RestBackend"),
    }
    assert settings["VERIFY_TLS"] == tls_sandbox.ca_bundle
    rest.reset_clients()
    try:
        with override_settings(SMSREST=settings):
            assert get_settings().verify_tls == tls_sandbox.ca_bundle
            msg = services.send_sms("Ciao dal sandbox HTTPS", ["+393471234567"])
    finally:
        rest.reset_clients()
    assert msg.status == Status.SENT, msg.last_error
    assert tls_sandbox.post_count(msg.order_id) == 1


@needs_tls
def test_tls_handshake_failures_print_no_traceback(tmp_path: Any) -> None:
    certificate = make_self_signed_cert(tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django_smsrest.sandbox",
            "--port",
            "0",
            "--tls-cert",
            certificate.cert,
            "--tls-key",
            certificate.key,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+/API/v1\.0/REST/", base_url)
        port = int(base_url.split(":")[2].split("/")[0])
        # Plain HTTP, garbage, a client that hangs up mid-handshake, an untrusting client.
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(100)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"\x16\x03\x01\x00\x05hello")
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(base_url + "status", timeout=TIMEOUT)
        # ... and it still serves a client that trusts it.
        ok = requests.get(base_url + "status", verify=certificate.cert, timeout=TIMEOUT)
        assert ok.status_code == 401
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=TIMEOUT)
    assert "Traceback" not in stderr
    assert stderr == ""
    assert process.returncode == 0


@needs_tls
def test_tls_sandbox_process_and_its_control_calls() -> None:
    with start_sandbox_process(tls=True, step=STEP, password=PASSWORD) as sandbox:
        assert sandbox.base_url.startswith("https://127.0.0.1:")
        assert sandbox.ca_bundle is not None
        folder = os.path.dirname(sandbox.ca_bundle)
        client = SmsRestClient(
            sandbox.base_url, sandbox.username, PASSWORD, verify=sandbox.ca_bundle, timeout=5
        )
        try:
            client.send_sms("Ciao", ["+393471234567"], message_type="N", order_id="proc1")
        finally:
            client.close()
        assert sandbox.post_count("proc1") == 1  # the control call goes over HTTPS too
        sandbox.reset()
        assert sandbox.orders() == []
    assert not os.path.exists(folder)  # the throwaway certificate is gone


def test_tls_cli_refuses_a_missing_certificate(tmp_path: Any) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "django_smsrest.sandbox",
            "--port",
            "0",
            "--tls-cert",
            str(tmp_path / "missing.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2
    assert "cannot load the TLS certificate" in result.stderr
    assert result.stdout == ""


def test_the_page_shows_delivery_states_in_words_with_their_code() -> None:
    """A person reads "Sent to the operator (SENT)", not the bare code (the sandbox has no
    Django settings: the English label)."""
    import requests

    from django_smsrest.client import SmsRestClient
    from django_smsrest.testing.sandbox import run_sandbox

    with run_sandbox(step=3600) as server:
        conf = server.smsrest_settings()
        client = SmsRestClient(conf["BASE_URL"], conf["USERNAME"], conf["PASSWORD"])
        client.send_sms("Ciao", ["+393471234567"], message_type="N", order_id="words-1")
        page = requests.get(server.page_url, timeout=5).text
    assert "(WAITING)" in page or "(SENT)" in page
    assert "Waiting to be sent (WAITING)" in page or "Sent to the operator (SENT)" in page
