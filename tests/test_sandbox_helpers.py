"""Helpers shared by the ``tests/test_sandbox_*.py`` files (no tests here).

Everything goes over a real loopback socket to a sandbox started with
:func:`~django_smsrest.testing.sandbox.run_sandbox`.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import requests

from django_smsrest.testing.sandbox import SandboxServer

TIMEOUT = 10


class Api:
    """A logged-in gateway client: one keep-alive ``requests`` session and the auth headers."""

    def __init__(self, sandbox: SandboxServer, *, token: bool = False) -> None:
        self.sandbox = sandbox
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

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.http.get(self.url + path, headers=headers, timeout=TIMEOUT, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, "Content-Type": "application/json"}
        headers.update(kwargs.pop("headers", {}))
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.http.post(
            self.url + path, data=data, headers=headers, timeout=TIMEOUT, **kwargs
        )

    def send(self, **fields: Any) -> requests.Response:
        body = {"message_type": "N", "message": "Hello world!", "recipient": ["+393471234567"]}
        body.update(fields)
        return self.post("sms", body)


def control(sandbox: SandboxServer, path: str, body: Any = None) -> requests.Response:
    """GET (no body) or POST (JSON body) a ``/_sandbox/`` control path."""
    url = f"{sandbox.root_url}_sandbox/{path}"
    if body is None:
        return requests.get(url, timeout=TIMEOUT)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url, data=data, timeout=TIMEOUT)


def raw_exchange(
    sandbox: SandboxServer, request: bytes, timeout: float = TIMEOUT
) -> tuple[int | None, bytes]:
    """Send raw bytes, read one answer: (status, body), or (None, b"") if closed unanswered."""
    port = int(sandbox.base_url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None, b""
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, body


def assert_still_serving(sandbox: SandboxServer) -> None:
    """The inspection endpoints and a fresh login still answer."""
    assert control(sandbox, "orders").status_code == 200
    assert control(sandbox, "").status_code == 200
    assert Api(sandbox).get("status").status_code == 200
