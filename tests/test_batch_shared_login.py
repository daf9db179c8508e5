"""The login the flush's threads share (django_smsrest.client.session): a request refused
with keys that ANOTHER thread logged in for is not "refused right after a fresh login".

With ``CONCURRENCY`` threads sharing one session key, thread B's repeat after a 401 uses
the keys thread A logged in for; if the session expired again between A's login and B's
use, the old rule ("a 401 right after a fresh login is final") failed B's message with an
AuthenticationError although B never saw its own login refused. Found by
tests/test_reliability.py (sessions expired every 0.5 s, CONCURRENCY 8)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses

from django_smsrest.exceptions import AuthenticationError
from tests.test_client import (
    LOGIN_URL,
    SEND_OK,
    SMS_URL,
    USER_KEY,
    calls_to,
    client,  # noqa: F401 (fixture)
    gw,  # noqa: F401 (fixture)
    send,
)


def test_a_refusal_of_keys_another_thread_logged_in_for_gets_a_login_of_its_own(
    gw: Any,  # noqa: F811
    client: Any,  # noqa: F811
) -> None:
    for key in ("K1", "K2", "K3"):
        gw.add(responses.GET, LOGIN_URL, body=f"{USER_KEY};{key}", content_type="text/plain")
    answers = iter([401, 401, 201])

    def post(request: Any) -> tuple[int, dict[str, str], str]:
        status = next(answers)
        if request.headers["Session_key"] == "K1":
            client.login()  # meanwhile another thread logs in (K2); then K2 expires too
        return status, {}, json.dumps(SEND_OK) if status == 201 else ""

    gw.add_callback(responses.POST, SMS_URL, callback=post)
    result = send(client, order_id="ord-1")
    assert result.order_id == "ord-1"
    keys = [p.request.headers["Session_key"] for p in calls_to(gw, "POST", SMS_URL)]
    assert keys == ["K1", "K2", "K3"]  # K3: this call's own login, accepted
    assert len(calls_to(gw, "GET", LOGIN_URL)) == 3


def test_a_refusal_right_after_its_own_login_is_still_final(
    gw: Any,  # noqa: F811
    client: Any,  # noqa: F811
) -> None:
    for key in ("K1", "K2", "K3"):
        gw.add(responses.GET, LOGIN_URL, body=f"{USER_KEY};{key}", content_type="text/plain")
    gw.add(responses.POST, SMS_URL, status=401)
    with pytest.raises(AuthenticationError):
        send(client)
    keys = [p.request.headers["Session_key"] for p in calls_to(gw, "POST", SMS_URL)]
    assert keys == ["K1", "K2"]  # no third try after this call's own login was refused
