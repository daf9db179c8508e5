"""Delivery callbacks (issue 14, item 7): with ``callback_url`` the sandbox POSTs each
recipient's state change to a loopback URL, from a background thread, over real sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from django_smsrest.testing.sandbox import SandboxServer, run_sandbox, start_sandbox_process
from tests.test_sandbox_helpers import Api, control

STEP = 10.0
ADA = "+393471234567"


class Receiver:
    """A loopback HTTP server that records the form bodies POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[dict[str, str]] = []
        self.content_types: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                received.content_types.append(self.headers.get("Content-Type") or "")
                received.posts.append({k: v[0] for k, v in form.items()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dlr?token=s3cret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(step=STEP) as server:
        yield server


def test_each_state_change_is_posted(sandbox: SandboxServer, receiver: Receiver) -> None:
    assert control(sandbox, "config", {"callback_url": receiver.url}).status_code == 200
    api = Api(sandbox)
    api.send(order_id="cb-1", recipient=[ADA, "+393470000001"])

    for expected in (2, 3, 4):  # wait for the watcher to see each step before the next
        sandbox.advance(STEP)
        receiver.wait_for(expected)

    posts = receiver.posts
    mine = [(p["recipient"], p["status"]) for p in posts]
    assert mine == [
        (ADA, "SENT"),
        ("+393470000001", "UNKNRCPT"),
        (ADA, "WAIT4DLVR"),
        (ADA, "DLVRD"),
    ]
    assert all(p["order_id"] == "cb-1" for p in posts)
    assert set(posts[0]) == {"order_id", "recipient", "status", "delivery_date"}
    assert posts[0]["delivery_date"] == ""
    assert len(posts[3]["delivery_date"]) == 14  # yyyyMMddHHmmss once final
    assert receiver.content_types[0] == "application/x-www-form-urlencoded"
    recorded = sandbox.snapshot()["callbacks"]
    assert [r["outcome"] for r in recorded] == [200] * 4
    sandbox.settle_callbacks()
    assert len(receiver.posts) == 4  # nothing posted twice


def test_a_scheduled_order_posts_when_it_starts(
    sandbox: SandboxServer, receiver: Receiver
) -> None:
    sandbox.configure(callback_url=receiver.url)
    Api(sandbox).send(order_id="cb-s", scheduled_delivery_time="2030-12-02 21:27")
    sandbox.settle_callbacks()
    assert receiver.posts == []  # still SCHEDULED: no change

    sandbox.advance(5 * 365 * 86400)

    [post] = receiver.wait_for(1)
    assert post["status"] == "DLVRD"  # the clock jumped past every step at once


def test_callbacks_are_off_by_default(sandbox: SandboxServer, receiver: Receiver) -> None:
    Api(sandbox).send()
    sandbox.advance(3 * STEP)
    sandbox.settle_callbacks()

    assert receiver.posts == []
    assert sandbox.snapshot()["callbacks"] == []


@pytest.mark.parametrize(
    "url",
    ["http://example.com/dlr", "http://10.0.0.1/x", "ftp://127.0.0.1/x", "127.0.0.1:80", 5],
)
def test_only_loopback_http_urls_are_allowed(sandbox: SandboxServer, url: object) -> None:
    response = control(sandbox, "config", {"callback_url": url})

    assert response.status_code == 400
    assert "callback_url" in response.json()["error_message"]


@pytest.mark.parametrize("url", ["http://localhost:9/x", "http://[::1]:9/x", "https://127.0.0.2/"])
def test_loopback_spellings_are_accepted(sandbox: SandboxServer, url: str) -> None:
    assert control(sandbox, "config", {"callback_url": url}).json()["callback_url"] == url


def test_a_failing_receiver_is_logged_and_the_sandbox_goes_on(
    sandbox: SandboxServer, capfd: pytest.CaptureFixture[str]
) -> None:
    dead = Receiver()
    url = dead.url
    dead.close()  # nothing listens there any more
    sandbox.configure(callback_url=url)
    api = Api(sandbox)
    api.send(order_id="cb-dead")

    sandbox.advance(STEP)
    sandbox.settle_callbacks()

    [record] = sandbox.snapshot()["callbacks"]
    assert str(record["outcome"]).startswith("failed")
    err = capfd.readouterr().err
    assert "delivery callback to http://127.0.0.1:" in err and "cb-dead" in err
    assert "s3cret" not in err  # the URL's query string (a token) is not logged
    assert api.send().status_code == 201


def test_an_error_status_is_recorded(sandbox: SandboxServer) -> None:
    refusing = Receiver(status=500)
    try:
        sandbox.configure(callback_url=refusing.url)
        Api(sandbox).send()
        sandbox.advance(STEP)
        refusing.wait_for(1)
        sandbox.settle_callbacks()
        assert sandbox.snapshot()["callbacks"][0]["outcome"] == 500
    finally:
        refusing.close()


def test_the_command_line_flag(receiver: Receiver) -> None:
    with start_sandbox_process(callback_url=receiver.url, step=STEP) as process:
        Api(process).send(order_id="cb-cli")  # type: ignore[arg-type]
        process.advance(STEP)
        [post] = receiver.wait_for(1)

    assert (post["order_id"], post["status"]) == ("cb-cli", "SENT")
