"""The sandbox survives its own inputs (issue 13, item 13).

Each hostile input gets a 400 with a reason, over a real socket, and the sandbox goes on
answering everyone else afterwards (:func:`assert_still_serving`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.test_sandbox_helpers import Api, assert_still_serving, control, raw_exchange


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(step=10.0) as server:
        yield server


def test_a_schedule_at_the_end_of_time_is_refused_and_inspection_survives(
    sandbox: SandboxServer,
) -> None:
    api = Api(sandbox)

    response = api.send(scheduled_delivery_time="9999-12-31T23:59:59-12:00")

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "DATE_OUT_OF_RANGE"
    assert "scheduled_delivery_time" in response.json()["error_message"]
    assert sandbox.orders() == []
    assert_still_serving(sandbox)


def test_a_schedule_before_year_one_in_utc_is_refused(sandbox: SandboxServer) -> None:
    response = Api(sandbox).send(scheduled_delivery_time="0001-01-01T00:30:00+14:00")

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "DATE_OUT_OF_RANGE"
    assert_still_serving(sandbox)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"latency": Infinity}', "Infinity is not JSON"),
        (b'{"latency": [0, Infinity]}', "Infinity is not JSON"),
        (b'{"step": NaN}', "NaN is not JSON"),
        (b'{"session_idle": -Infinity}', "-Infinity is not JSON"),
        (b'{"money": NaN}', "NaN is not JSON"),
        # The same values as strings go through the option parser (as on the command line).
        (b'{"latency": "inf"}', "latency must be a finite number"),
        (b'{"step": "nan"}', "step must be a finite number"),
        (b'{"money": "-infinity"}', "money must be a finite number"),
        (b'{"timeout_seconds": 1e308}', "timeout_seconds must be at most"),
        (b'{"latency": 1e308}', "latency must be at most"),
        (b'{"latency": "10-1e400"}', "latency must be a finite number"),
    ],
)
def test_config_refuses_non_finite_and_absurd_numbers(
    sandbox: SandboxServer, body: bytes, reason: str
) -> None:
    before = control(sandbox, "config").json()

    response = control(sandbox, "config", body)

    assert response.status_code == 400, response.text
    assert reason in response.json()["error_message"]
    assert control(sandbox, "config").json() == before
    api = Api(sandbox)
    sent = api.send()
    assert sent.status_code == 201
    assert api.get("sms/" + sent.json()["order_id"]).status_code == 200
    assert_still_serving(sandbox)


@pytest.mark.parametrize("seconds", [b"NaN", b"Infinity", b"1e300"])
def test_advance_refuses_non_finite_and_absurd_seconds(
    sandbox: SandboxServer, seconds: bytes
) -> None:
    response = control(sandbox, "advance", b'{"seconds": ' + seconds + b"}")

    assert response.status_code == 400, response.text
    assert sandbox.state.clock_offset == 0
    assert Api(sandbox).send().status_code == 201
    assert_still_serving(sandbox)


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("path", ["sms", "config"])
def test_deeply_nested_json_is_a_400(sandbox: SandboxServer, path: str) -> None:
    body = b'{"message": ' + DEEP + b"}"
    if path == "sms":
        response = Api(sandbox).post("sms", body)
    else:
        response = control(sandbox, "config", b'{"step": ' + DEEP + b"}")

    assert response.status_code == 400, response.text
    assert "nested" in response.json()["error_message"]
    assert_still_serving(sandbox)


def test_nan_in_a_send_body_is_a_400(sandbox: SandboxServer) -> None:
    response = Api(sandbox).post(
        "sms",
        b'{"message_type": "N", "message": "Hi", "recipient": ["+393471234567"], '
        b'"max_fragments": NaN}',
    )

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_JSON"
    assert_still_serving(sandbox)


@pytest.mark.parametrize("encoding", [["gsm"], {"gsm": 1}, 7])
def test_an_encoding_that_is_not_a_string_is_a_400(
    sandbox: SandboxServer, encoding: object
) -> None:
    response = Api(sandbox).send(encoding=encoding)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ENCODING"
    assert_still_serving(sandbox)


def test_a_negative_chunk_size_is_a_400_without_reading_on(sandbox: SandboxServer) -> None:
    api = Api(sandbox)
    request = (
        b"POST /API/v1.0/REST/sms HTTP/1.1\r\nHost: x\r\n"
        + f"user_key: {api.user_key}\r\nSession_key: {api.key}\r\n".encode()
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"-5F5E100\r\n"  # minus 100 MB
        + b"{}" * 1000
    )
    started = time.monotonic()

    status, body = raw_exchange(sandbox, request)

    assert status == 400
    assert "chunk" in json.loads(body)["error_message"]
    assert time.monotonic() - started < 5
    assert sandbox.snapshot()["posts_total"] == 0
    assert_still_serving(sandbox)


@pytest.mark.parametrize("size_line", [b"0x10", b"1_0", b"+10"])
def test_a_chunk_size_that_is_not_plain_hex_is_a_400(
    sandbox: SandboxServer, size_line: bytes
) -> None:
    request = (
        b"POST /_sandbox/config HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + size_line
        + b"\r\n"
        + b"{}" * 8
        + b"\r\n0\r\n\r\n"
    )

    status, body = raw_exchange(sandbox, request)

    assert status == 400
    assert "chunk" in json.loads(body)["error_message"]
    assert_still_serving(sandbox)
