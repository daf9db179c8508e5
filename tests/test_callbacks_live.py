"""End to end over real sockets: the app sends through the sandbox, the sandbox POSTs its
delivery callbacks (``callback_url``) to the app's view on pytest-django's live server, and
the message becomes DELIVERED without a single status poll."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from django.urls import include, path

from django_smsrest import services
from django_smsrest.backends import rest
from django_smsrest.models import SmsMessage, Status
from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.settings import SMSREST

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

urlpatterns = [path("sms/", include("django_smsrest.urls"))]

TOKEN = "live-test-token-0123456789"
STEP = 10.0
ADA, GONE = "+393471234567", "+393470000001"  # GONE: a sandbox number that ends UNKNRCPT


@pytest.fixture
def sandbox(live_server: Any) -> Iterator[SandboxServer]:
    rest.reset_clients()
    url = f"{live_server.url}/sms/callback/{TOKEN}/"
    with run_sandbox(step=STEP, seed=1, callback_url=url) as server:
        settings = {
            **SMSREST,
            **server.smsrest_settings(),
            "BACKEND": "django_smsrest.backends.rest.RestBackend",
            "CALLBACK_TOKENS": [TOKEN],
        }
        with override_settings(SMSREST=settings):
            yield server
    rest.reset_clients()


def _wait(predicate: Any, what: str, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_callbacks_deliver_the_message_without_polling(sandbox: SandboxServer) -> None:
    msg = services.send_sms("Ciao dal sandbox", [ADA, GONE])
    assert msg.status == Status.SENT
    gets_before = sandbox.snapshot()["requests"].get("GET sms/{order_id}", 0)

    for expected in (2, 3, 4):  # one clock step at a time: each state is posted
        sandbox.advance(STEP)
        _wait(lambda n=expected: len(sandbox.snapshot()["callbacks"]) >= n, f"{expected} posts")

    msg = SmsMessage.objects.get(pk=msg.pk)
    assert msg.status == Status.PARTIALLY_DELIVERED and msg.finished_at is not None
    assert dict(msg.recipients.values_list("phone_number", "state")) == {
        ADA: "DLVRD",
        GONE: "UNKNRCPT",
    }
    assert msg.recipients.get(phone_number=ADA).delivery_date is not None
    callbacks = sandbox.snapshot()["callbacks"]
    assert [c["outcome"] for c in callbacks] == [200] * 4
    assert [(c["recipient"], c["status"]) for c in callbacks][-1] == (ADA, "DLVRD")
    # Nothing was polled: the state came through the callbacks only.
    assert sandbox.snapshot()["requests"].get("GET sms/{order_id}", 0) == gets_before


def test_a_wrong_token_in_the_callback_url_is_refused(
    live_server: Any, sandbox: SandboxServer
) -> None:
    sandbox.configure(callback_url=f"{live_server.url}/sms/callback/not-the-token-000000/")
    msg = services.send_sms("Ciao", [ADA])

    sandbox.advance(3 * STEP)
    _wait(lambda: sandbox.snapshot()["callbacks"], "a callback")

    assert {c["outcome"] for c in sandbox.snapshot()["callbacks"]} == {404}
    assert SmsMessage.objects.get(pk=msg.pk).status == Status.SENT
