"""The two baselines every run compares the app with, against the same sandbox:

* **A, the seed**: the provider's Python quick start, per message a login and a POST, each
  with plain ``requests.get``/``requests.post`` (a new connection each time);
* **B, the floor**: one keep-alive ``requests.Session``, one login, the same POSTs in a
  loop, no database: the fastest one connection can go.
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from bench.common import SANDBOX_PASSWORD, SANDBOX_USER, recipient


def seed_payload(i: int) -> dict[str, Any]:
    """The seed quick start's message, immediate (the app sends immediately too)."""
    return {
        "message": f"Benchmark message {i}: your code is {i % 10000:04d}.",
        "message_type": "N",
        "returnCredits": False,
        "recipient": [recipient(i)],
        "sender": None,
    }


def baseline_seed(base_url: str, n: int, verify: bool | str = True) -> float:
    """The quick start's pattern, verbatim in spirit: login + POST per message, each with
    a plain ``requests`` call (new connection, new session, no keep-alive).

    ``verify``: over TLS, the bundle that trusts the sandbox (the quick start leaves it at
    ``True``, which loads certifi's bundle for every new connection just the same)."""

    def login(username: str, password: str) -> tuple[str, str] | None:
        r = requests.get(f"{base_url}login?username={username}&password={password}", verify=verify)
        if r.status_code != 200:
            return None
        user_key, session_key = r.text.split(";")
        return user_key, session_key

    def send_sms(auth: tuple[str, str], sendsms: dict[str, Any]) -> Any:
        headers = {"user_key": auth[0], "Session_key": auth[1], "Content-type": "application/json"}
        r = requests.post(
            f"{base_url}sms", headers=headers, data=json.dumps(sendsms), verify=verify
        )
        if r.status_code != 201:
            return None
        return json.loads(r.text)

    start = time.perf_counter()
    for i in range(n):
        auth = login(SANDBOX_USER, SANDBOX_PASSWORD)
        assert auth, "login failed"
        sent = send_sms(auth, seed_payload(i))
        assert sent and sent["result"] == "OK", sent
    return n / (time.perf_counter() - start)


def baseline_floor(base_url: str, n: int, verify: bool | str = True) -> float:
    """The fastest a single process can go: one keep-alive session, one login, no DB.

    ``verify`` goes on every request: a Session's own ``verify`` loses to
    ``$REQUESTS_CA_BUNDLE``."""
    with requests.Session() as session:
        r = session.get(
            f"{base_url}login",
            params={"username": SANDBOX_USER, "password": SANDBOX_PASSWORD},
            verify=verify,
        )
        user_key, session_key = r.text.split(";")
        headers = {
            "user_key": user_key,
            "Session_key": session_key,
            "Content-type": "application/json",
        }
        start = time.perf_counter()
        for i in range(n):
            r = session.post(
                f"{base_url}sms", headers=headers, data=json.dumps(seed_payload(i)), verify=verify
            )
            assert r.status_code == 201, r.text
            r.json()
        return n / (time.perf_counter() - start)
