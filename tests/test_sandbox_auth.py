"""Unknown user_key is a 404, a bad session key a 401 (issue 14, item 3; reference §1.4, E4).

Over a real socket: the documentation answers "[Not found] The User_key was not found"
(404) on every authenticated endpoint when the user key is not the account's, whatever
session key or token comes with it; a valid user key with an expired or unknown session
key stays a 401; ``checksession`` with an unknown user key is a 404 too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.test_sandbox_helpers import TIMEOUT, Api

ENDPOINTS = [("POST", "sms"), ("GET", "sms/some-order"), ("GET", "status"), ("GET", "smshistory")]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(session_idle=100) as server:
        yield server


def _call(sandbox: SandboxServer, method: str, path: str, headers: dict[str, str]) -> Any:
    return requests.request(
        method,
        sandbox.base_url + path,
        headers=headers,
        params={"from": "20200101000000"} if path == "smshistory" else None,
        json={"message_type": "N", "message": "Hi", "recipient": ["+393471234567"]},
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("second", ["valid-session", "bad-session", "valid-token", "none"])
def test_an_unknown_user_key_is_404_whatever_the_session_key(
    sandbox: SandboxServer, method: str, path: str, second: str
) -> None:
    session, token = Api(sandbox), Api(sandbox, token=True)
    headers = {"user_key": "0123456789abcdef"}
    if second == "valid-session":
        headers["Session_key"] = session.key
    elif second == "bad-session":
        headers["Session_key"] = "forged"
    elif second == "valid-token":
        headers["Access_token"] = token.key

    response = _call(sandbox, method, path, headers)

    assert response.status_code == 404, response.text
    assert "user_key not found" in response.json()["error_message"]
    assert response.json()["code"] == "USER_KEY_NOT_FOUND"
    assert sandbox.orders() == []


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_valid_user_key_with_an_expired_or_unknown_session_is_401(
    sandbox: SandboxServer, method: str, path: str
) -> None:
    api = Api(sandbox)
    unknown = {"user_key": api.user_key, "Session_key": "not-a-session"}
    assert _call(sandbox, method, path, unknown).status_code == 401

    sandbox.advance(101)

    assert _call(sandbox, method, path, api.headers).status_code == 401
    assert sandbox.orders() == []


def test_checksession_with_an_unknown_user_key_is_404(sandbox: SandboxServer) -> None:
    api = Api(sandbox)
    url = sandbox.base_url + "checksession"

    unknown = requests.get(
        url, headers={"user_key": "ffff", "Session_key": api.key}, timeout=TIMEOUT
    )
    bad_session = requests.get(
        url, headers={"user_key": api.user_key, "Session_key": "nope"}, timeout=TIMEOUT
    )
    good = requests.get(url, headers=api.headers, timeout=TIMEOUT)

    assert unknown.status_code == 404
    assert "user_key not found" in unknown.json()["error_message"]
    assert (bad_session.status_code, bad_session.text) == (200, "false")
    assert (good.status_code, good.text) == (200, "true")
