"""What a person reads says what happened (issue 24 item 4): the command after ``--queue``
with no task worker, the sweep during an outage, the punctuation of the "not sent yet"
line, the 429 text and log, one error for a text too long, the no-recipient hint, the
admin's banner after a cancel and the sandbox page's counters."""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from django.contrib.auth.models import User
from django.contrib.messages import constants as levels
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import locmem, rest
from django_smsrest.exceptions import GatewayConnectionError
from django_smsrest.management.commands.send_sms import Command
from django_smsrest.models import SmsMessage, Status
from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from django_smsrest.testing.tasks import no_task_worker
from tests.settings import SMSREST
from tests.test_sandbox_helpers import Api

pytestmark = pytest.mark.django_db

NUMBER = "+393471234567"


@pytest.fixture(autouse=True)
def _clean_gateway() -> Iterator[None]:
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture
def cli(capsys, monkeypatch):
    """``manage.py send_sms ARGS``: (exit code, stdout, stderr)."""
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)

    def run(*argv: str) -> tuple[int, str, str]:
        code = 0
        try:
            Command().run_from_argv(["manage.py", "send_sms", *argv])
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _unreachable(monkeypatch) -> None:
    def black_hole(self, order):
        raise GatewayConnectionError("Could not connect to the gateway")

    monkeypatch.setattr(locmem.LocmemBackend, "send", black_hole)


# --- the command ----------------------------------------------------------------------------


# A real commit: the default ImmediateBackend runs the task then, before the command prints.
@pytest.mark.django_db(transaction=True)
def test_queue_without_a_worker_says_the_attempt_failed(cli, monkeypatch) -> None:
    _unreachable(monkeypatch)
    code, out, err = cli("--to", NUMBER, "--queue", "Hi")
    msg = SmsMessage.objects.get()
    assert msg.status == Status.QUEUED and "Could not connect" in msg.last_error
    assert "the task worker will send it" not in out
    assert code == 1  # as without --queue
    assert f"SMS #{msg.pk} was not sent yet" in err
    assert "Could not connect to the gateway. It stays in the outbox" in err


@pytest.mark.django_db(transaction=True)
def test_queue_without_a_worker_that_succeeded_says_sent(cli) -> None:
    code, out, _err = cli("--to", NUMBER, "--queue", "Hi")
    assert code == 0
    assert "Sent" in out and "the task worker will send it" not in out


def test_queue_with_a_worker_still_says_the_worker_sends_it(cli) -> None:
    with no_task_worker:
        code, out, _err = cli("--to", NUMBER, "--queue", "Hi")
    assert code == 0
    assert "the task worker will send it" in out


def test_not_sent_yet_is_two_sentences(cli, monkeypatch) -> None:
    _unreachable(monkeypatch)
    _code, _out, err = cli("--to", NUMBER, "Hi")
    assert "Could not connect to the gateway. It stays in the outbox" in err


def test_sweep_during_an_outage_says_the_gateway_is_unreachable(cli, monkeypatch) -> None:
    with no_task_worker:
        services.queue_sms("one", [NUMBER])
    _unreachable(monkeypatch)
    code, out, err = cli("--sweep")
    assert code == 1
    assert "sent: queued 1" not in out
    assert "1 message could not be sent" in err
    assert "Could not connect to the gateway" in err
    assert "errors: 0" not in out


def test_loop_during_an_outage_says_the_gateway_is_unreachable(cli, monkeypatch) -> None:
    with no_task_worker:
        services.queue_sms("one", [NUMBER])
    _unreachable(monkeypatch)
    real_sweep = services.sweep

    def one_sweep():
        report = real_sweep()
        threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGTERM)).start()
        return report

    monkeypatch.setattr(services, "sweep", one_sweep)
    code, out, err = cli("--loop", "--interval", "5")
    assert code == 0  # a worker outlives an outage
    assert "1 message could not be sent" in err and "Could not connect" in err
    assert "sent: queued 1" not in out


def test_too_long_text_gets_one_error() -> None:
    with pytest.raises(ValidationError) as caught:
        services.validate_sms("x" * 2000, [NUMBER])
    [text] = caught.value.message_dict["message"]
    assert "1000 characters" in text


@override_settings(SMSREST={**SMSREST, "MAX_SEGMENTS": 2})
def test_too_long_text_names_the_tightest_limit() -> None:
    with pytest.raises(ValidationError) as caught:
        services.validate_sms("x" * 2000, [NUMBER])
    [text] = caught.value.message_dict["message"]
    assert "MAX_SEGMENTS" in text


def test_no_recipient_hint_names_every_mode(cli) -> None:
    code, _out, err = cli("Hi")
    assert code == 2
    for mode in ("--flush", "--sweep", "--loop", "--refresh", "--credits", "--receive"):
        assert mode in err


# --- HTTP 429 -------------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    rest.reset_clients()
    with run_sandbox(step=0.05, seed=1) as server:
        settings = {
            **SMSREST,
            **server.smsrest_settings(),
            "BACKEND": "django_smsrest.backends.rest.RestBackend",
            "TIMEOUT": (2.0, 1.0),
        }
        with override_settings(SMSREST=settings):
            yield server
    rest.reset_clients()


def test_rate_limit_text_says_the_wait_once_and_logs_a_readable_time(
    sandbox: SandboxServer, caplog
) -> None:
    sandbox.configure(rate_limit_next=1, retry_after=300)
    with caplog.at_level(logging.WARNING, logger="django_smsrest"):
        msg = services.send_sms("Hi", [NUMBER])
    assert msg.status == Status.QUEUED
    assert msg.last_error.lower().count("retry after") == 1, msg.last_error
    [line] = [r.getMessage() for r in caplog.records if "paused until" in r.getMessage()]
    assert not re.search(r"\.\d{6}", line), line  # no microseconds
    assert re.search(r"paused until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", line), line


def test_sandbox_page_counts_each_send_endpoint(sandbox: SandboxServer) -> None:
    api = Api(sandbox)
    assert api.send(order_id="s-1").status_code == 201
    body = {
        "message_type": "N",
        "message": "Ciao ${name}",
        "recipients": [{"recipient": NUMBER, "name": "Anna"}],
        "order_id": "p-1",
    }
    assert api.post("paramsms", body).status_code in (200, 201)
    page = requests.get(sandbox.page_url, timeout=5).text
    assert "1 POST sms," in page
    assert "1 POST paramsms" in page
    assert "2 POST sms" not in page


# --- the admin ------------------------------------------------------------------------------


def test_cancelling_a_scheduled_message_is_a_success(db) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    later = timezone.now() + timedelta(days=1)
    msg = services.send_sms("later", [NUMBER], scheduled_delivery_time=later)
    assert msg.status == Status.SCHEDULED
    response = client.post(
        reverse("admin:django_smsrest_smsmessage_cancel", args=[msg.pk]), follow=True
    )
    msg.refresh_from_db()
    assert msg.status == Status.CANCELLED
    [banner] = list(response.context["messages"])
    assert banner.level == levels.SUCCESS, banner.message
