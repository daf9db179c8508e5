"""Secrets never leak: not in a log line, an exception, an HTML page or the database.

The gateway's login takes the password in the query string, so every failure path that
could print a URL is exercised against a real sandbox over loopback, with every logger at
DEBUG (urllib3 included, which logs request lines with their query string): a wrong
password, a read timeout, a refused connection, a 500, an expired session and the re-login,
token auth and a revoked token. Every log record and every exception (rendered with
``traceback.format_exception``, chained causes included) is searched for the password (the
right one and a wrong one), every session key and every access token the sandbox issued.
So are Django's DEBUG error page for an exception raised while sending from a view, the
admin list and change pages, the sandbox's pages and inspection JSON, and every text column
of every table after the run.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection
from django.test import RequestFactory
from django.views.debug import technical_500_response

from django_smsrest import services
from django_smsrest.backends.base import OutgoingOrder
from django_smsrest.backends.rest import RestBackend, reset_clients
from django_smsrest.client import SmsRestClient
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import (
    AuthenticationError,
    GatewayConnectionError,
    GatewayError,
    GatewayServerError,
    GatewayTimeout,
)
from django_smsrest.models import SmsMessage, Status
from django_smsrest.testing import SandboxServer, run_sandbox
from tests.reliability import REPO, worker_env

PASSWORD = "pw-S3cret-7f2a91"
WRONG_PASSWORD = "Wr0ng-Pa55-9c1d44"
USERNAME = "acct-secrets"
A = "+393471234567"


class Capture(logging.Handler):
    """Every record of every logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    names = ["urllib3", "urllib3.connectionpool", "requests", "django_smsrest", "django"]
    saved = {name: logging.getLogger(name).level for name in names}
    saved_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


class Secrets:
    """The secrets to look for: the passwords, plus every key the sandbox ever issued
    (collected as they appear, since expiring sessions forgets them)."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self.keys: set[str] = set()

    def collect(self) -> None:
        state = self.sandbox.state
        with state._lock:
            self.keys.update(state._sessions)
            self.keys.update(state._tokens)

    def all(self) -> list[str]:
        self.collect()
        return [PASSWORD, WRONG_PASSWORD, *sorted(self.keys)]

    def assert_absent(self, where: str, text: str) -> None:
        for secret in self.all():
            assert secret not in text, f"a secret ({secret[:4]}…) appears in {where}"


def _text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(username=USERNAME, password=PASSWORD, seed=1) as server:
        yield server


@pytest.fixture
def secrets(sandbox: SandboxServer) -> Secrets:
    return Secrets(sandbox)


@pytest.fixture
def rest_settings(settings: Any, sandbox: SandboxServer) -> Iterator[Any]:
    reset_clients()
    settings.SMSREST = {
        **settings.SMSREST,
        **sandbox.smsrest_settings(BACKEND="django_smsrest.backends.rest.RestBackend"),
        "TIMEOUT": (1.0, 0.5),
        "RETRY_BASE_SECONDS": 0.01,
    }
    yield settings
    reset_clients()


def _client(sandbox: SandboxServer, **kwargs: Any) -> SmsRestClient:
    kwargs.setdefault("timeout", (1.0, 0.5))
    return SmsRestClient(
        kwargs.pop("base_url", sandbox.base_url),
        USERNAME,
        kwargs.pop("password", PASSWORD),
        **kwargs,
    )


def test_failures_on_the_client_leak_nothing_in_logs_or_exceptions(
    sandbox: SandboxServer, secrets: Secrets, capture: Capture
) -> None:
    texts: dict[str, str] = {}

    # Wrong password: a 404 on GET login (the password was in its query string).
    with pytest.raises(AuthenticationError) as wrong:
        _client(sandbox, password=WRONG_PASSWORD).login()
    texts["wrong password"] = _text(wrong.value)
    assert "refused the username/password" in str(wrong.value)

    client = _client(sandbox)
    result = client.send_sms("Hello", [A], message_type="N", order_id="a" * 32)
    assert result.total_sent == 1
    secrets.collect()

    # Read timeout after the order was accepted.
    sandbox.configure(timeout_after_next=1, timeout_seconds=1.0)
    with pytest.raises(GatewayTimeout) as timeout:
        client.send_sms("Hello", [A], message_type="N", order_id="b" * 32)
    texts["timeout"] = _text(timeout.value)

    # 500.
    sandbox.configure(error_next=1)
    with pytest.raises(GatewayServerError) as error:
        client.send_sms("Hello", [A], message_type="N", order_id="c" * 32)
    texts["500"] = _text(error.value)

    # Session expiry: the 401, a fresh login (password in the query again), the repeat.
    sandbox.configure(expire_sessions=True)
    assert client.send_sms("Hello", [A], message_type="N", order_id="d" * 32).total_sent == 1
    secrets.collect()
    assert client.stats.logins == 2

    # Token auth, and a revoked token.
    token_client = _client(sandbox, auth="token")
    token_client.send_sms("Hello", [A], message_type="N", order_id="e" * 32)
    secrets.collect()
    sandbox.configure(revoke_tokens=True)
    token_client.send_sms("Hello", [A], message_type="N", order_id="f" * 32)
    secrets.collect()

    # Connection refused, at the login: requests' own message quotes the whole login URL.
    closed = socket_port_closed()
    refused_client = _client(sandbox, base_url=f"http://127.0.0.1:{closed}/API/v1.0/REST/")
    with pytest.raises(GatewayConnectionError) as refused:
        refused_client.login()
    texts["connection refused"] = _text(refused.value)
    assert "Connection refused" in str(refused.value) or "could not log in" in str(refused.value)

    for where, text in texts.items():
        secrets.assert_absent(f"the exception for {where}", text)
    for obj in (client, token_client, refused_client, client.stats):
        secrets.assert_absent("a repr", repr(obj))
    logged = "\n".join(capture.lines)
    # The capture saw urllib3's request lines, including the login's (redacted).
    assert "/API/v1.0/REST/login?" in logged
    assert "password=***" in logged or "password=" not in logged
    assert len(secrets.keys) >= 3  # two sessions and tokens were issued and searched for
    secrets.assert_absent("the log records", logged)


def socket_port_closed() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Django: the DEBUG error page, the admin, the database --------------------------------


def _debug_page(settings: Any, view: Any) -> str:
    """The HTML of Django's DEBUG technical 500 page for the exception ``view`` raises."""
    settings.DEBUG = True
    request = RequestFactory().post("/send/", {"text": "Hello"})
    try:
        view(request)
    except GatewayError:
        response = technical_500_response(request, *sys.exc_info())
    else:  # pragma: no cover - the view must fail
        raise AssertionError("the view did not raise")
    return response.content.decode()


def _send_view(request: Any) -> None:
    """A project's view sending through the configured backend (no outbox), as a view
    that calls the gateway directly would."""
    backend = RestBackend(get_settings())
    backend.send(
        OutgoingOrder(
            message=request.POST["text"],
            recipients=(A,),
            message_type="N",
            sender="",
            scheduled_delivery_time=None,
            order_id="0" * 32,
            encoding="gsm",
        )
    )


@pytest.mark.django_db
def test_debug_page_admin_sandbox_and_database_leak_nothing(
    sandbox: SandboxServer,
    secrets: Secrets,
    rest_settings: Any,
    capture: Capture,
    admin_client: Any,
) -> None:
    settings = rest_settings

    # 1. Messages through the outbox: one sent, one after a session expiry, one failing
    # with a 500 then reconciled, one with the wrong password (FAILED).
    sent = services.send_sms("Hello", [A])
    assert sent.status == Status.SENT
    secrets.collect()
    sandbox.configure(expire_sessions=True)
    again = services.send_sms("Hello again", [A])
    assert again.status == Status.SENT
    secrets.collect()
    sandbox.configure(error_next=1)
    retried = services.send_sms("Hello, 500", [A])
    assert retried.status == Status.QUEUED and "HTTP 500" in retried.last_error

    settings.SMSREST = {**settings.SMSREST, "PASSWORD": WRONG_PASSWORD}
    refused = services.send_sms("Hello, wrong password", [A])
    assert refused.status == Status.FAILED
    assert "refused the username/password" in refused.last_error

    # 2. DEBUG page for a view whose login fails (the wrong password is in SMSREST and
    # was in the login URL).
    page = _debug_page(settings, _send_view)
    assert "AuthenticationError" in page
    assert "SMSREST" in page  # the settings are listed, with PASSWORD cleansed
    secrets.assert_absent("the DEBUG page (login failure)", page)

    # 3. DEBUG page for a 500 after a good login and a session expiry (the session key is
    # in the client's memory, and in the frames being rendered).
    settings.SMSREST = {**settings.SMSREST, "PASSWORD": PASSWORD}
    sandbox.configure(expire_sessions=True, error_next=1)
    page = _debug_page(settings, _send_view)
    assert "GatewayServerError" in page
    secrets.collect()
    secrets.assert_absent("the DEBUG page (500)", page)
    settings.DEBUG = False

    # 4. The admin pages.
    for url in [
        "/admin/django_smsrest/smsmessage/",
        *(f"/admin/django_smsrest/smsmessage/{m.pk}/change/" for m in (sent, retried, refused)),
        "/admin/django_smsrest/smsrecipient/",
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        secrets.assert_absent(f"the admin page {url}", response.content.decode())

    # 5. The sandbox's own pages and inspection JSON.
    for path in ("_sandbox/", "_sandbox/orders", "_sandbox/config"):
        body = requests.get(sandbox.root_url + path, timeout=5).text
        secrets.assert_absent(f"the sandbox page {path}", body)
    secrets.assert_absent("the sandbox snapshot", json.dumps(sandbox.snapshot()))

    # 6. Every text column of every table.
    assert SmsMessage.objects.count() == 4
    scanned = 0
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                col.name for col in connection.introspection.get_table_description(cursor, table)
            ]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, str | bytes | memoryview):
                        text = (
                            bytes(value).decode("latin-1") if not isinstance(value, str) else value
                        )
                        secrets.assert_absent(f"table {table}", text)
                        scanned += 1
    assert scanned > 20

    # 7. And the log records of all of the above.
    secrets.assert_absent("the log records", "\n".join(capture.lines))


# --- configuration ---------------------------------------------------------------------------


def test_check_refuses_plain_http_to_a_remote_host(tmp_path: Path) -> None:
    """``manage.py check`` fails, naming the key, when the password would cross the
    network in clear text; loopback http (the sandbox) passes."""

    def check(base_url: str) -> subprocess.CompletedProcess[str]:
        # A real (empty) database: Django 6.1's model checks ask it about JSONField.
        env = worker_env(f"sqlite:{tmp_path / 'check.sqlite3'}", {"BASE_URL": base_url})
        return subprocess.run(
            [sys.executable, "-m", "django", "check"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    bad = check("http://gateway.example.com/API/v1.0/REST/")
    assert bad.returncode == 1, bad
    assert "django_smsrest.E001" in bad.stderr
    assert "SMSREST['BASE_URL']" in bad.stderr and "plain http://" in bad.stderr
    good = check("http://127.0.0.1:8765/API/v1.0/REST/")
    assert good.returncode == 0, good.stderr
    assert "E001" not in good.stderr
