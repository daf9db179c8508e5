"""Issue 23 item 8: sender aliases. ``send_sms --aliases`` lists the account's aliases
(``GET alias`` with ``alias-state``), against the sandbox over a real socket, and
``check --deploy`` warns when ``DEFAULT_SENDER`` is not a confirmed alias."""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import override_settings

from django_smsrest.backends import rest
from django_smsrest.client import SmsRestClient
from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.settings import SMSREST
from tests.test_sandbox_helpers import control

BASE = "https://api.example.test/API/v1.0/REST/"


@responses.activate
def test_client_reads_aliases_and_their_state() -> None:
    responses.add(responses.GET, BASE + "login", body="UK;SK", content_type="text/plain")
    responses.add(
        responses.GET,
        BASE + "alias",
        json={
            "total": 3,
            "alias": [
                {"id": 7, "alias": "Shop", "alias-state": 2},
                {"id": 8, "alias": "Promo", "alias-state": "0"},
                {"alias": {"alias": "Old", "alias-state": 4}},
            ],
        },
    )
    client = SmsRestClient(BASE, "user", "Pa55-w0rd-S3CRET")
    page = client.get_aliases(page=1, page_size=50, hide_not_approved=True)
    client.close()
    query = parse_qs(urlsplit(responses.calls[-1].request.url).query)
    assert query == {"pageNumber": ["1"], "pageSize": ["50"], "hide-not-approved": ["true"]}
    assert [(a.alias, a.state, a.confirmed) for a in page.aliases] == [
        ("Shop", 2, True),
        ("Promo", 0, False),
        ("Old", 4, False),
    ]
    assert page.aliases[0].state_label == "confirmed by AGCOM" and page.total == 3


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    rest.reset_clients()
    with run_sandbox() as server:
        yield server
    rest.reset_clients()


def settings_for(server: SandboxServer, sender: str) -> dict[str, object]:
    return {
        **SMSREST,
        **server.smsrest_settings(),
        "BACKEND": "django_smsrest.backends.rest.RestBackend",
        "TIMEOUT": (2.0, 5.0),
        "DEFAULT_SENDER": sender,
    }


def test_command_lists_the_aliases(sandbox: SandboxServer) -> None:
    assert control(sandbox, "alias", {"alias": "Promo", "state": 0}).ok
    out = io.StringIO()
    with override_settings(SMSREST=settings_for(sandbox, "Promo")):
        call_command("send_sms", "--aliases", stdout=out)
    assert out.getvalue().splitlines() == [
        "Sandbox  1  confirmed by the provider  (id 1)",
        "Promo    0  unconfirmed  (id 2)  <- DEFAULT_SENDER",
        "Warning: DEFAULT_SENDER 'Promo' is not a confirmed alias; the gateway sends it as "
        "a numeric sender.",
    ]
    assert sandbox.snapshot()["requests"]["GET alias"] == 1


def _deploy_ids() -> dict[str, str]:
    return {m.id or "": m.msg for m in run_checks(include_deployment_checks=True)}


def test_check_deploy_warns_unless_default_sender_is_confirmed(sandbox: SandboxServer) -> None:
    assert control(sandbox, "alias", {"alias": "Blocked", "state": 3}).ok
    with override_settings(SMSREST=settings_for(sandbox, "Sandbox")):
        assert "django_smsrest.W102" not in _deploy_ids()
    with override_settings(SMSREST=settings_for(sandbox, "Blocked")):
        found = _deploy_ids()
        assert "blocked by the provider" in found["django_smsrest.W102"]
    with override_settings(SMSREST=settings_for(sandbox, "Nobody")):
        assert "not registered" in _deploy_ids()["django_smsrest.W102"]
    with override_settings(SMSREST=settings_for(sandbox, "+393471234567")):
        assert "django_smsrest.W102" not in _deploy_ids()  # a number, not an alias


def test_check_deploy_says_when_it_could_not_ask() -> None:
    conf = {
        **SMSREST,
        "BACKEND": "django_smsrest.backends.rest.RestBackend",
        "BASE_URL": "http://127.0.0.1:9/API/v1.0/REST/",  # nothing listens on port 9
        "USERNAME": "u",
        "PASSWORD": "p",
        "TIMEOUT": (0.5, 0.5),
        "DEFAULT_SENDER": "Shop",
    }
    rest.reset_clients()
    with override_settings(SMSREST=conf):
        assert "django_smsrest.W103" in _deploy_ids()
    rest.reset_clients()
