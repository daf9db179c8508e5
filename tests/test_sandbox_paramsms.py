"""``POST paramsms`` and ``POST smstogroups`` (issue 14, item 5; reference §3, §3b).

Over a real socket. Both behave like ``POST sms`` for order ids, duplicates, delivery
simulation and faults; they answer 200 on the smSend family and 201 on Skebby.
"""

from __future__ import annotations

import html
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from django_smsrest.testing.sandbox import SandboxServer, run_sandbox, start_sandbox_process
from tests.test_sandbox_helpers import Api, control

ADA, BOB, CARLA = "+393471234567", "+393471234568", "+393471234569"
STEP = 10.0


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(step=STEP, groups={"clienti": [ADA, BOB], "staff": [BOB, CARLA]}) as s:
        yield s


def _param(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_type": "N",
        "message": "Ciao ${name}, your code is ${code}",
        "recipients": [
            {"recipient": ADA, "name": "Ada", "code": "A1"},
            {"recipient": BOB, "name": "Bob", "code": 42},
        ],
    }
    body.update(fields)
    return body


def _groups(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"message_type": "N", "message": "Hello", "recipient": ["clienti"]}
    body.update(fields)
    return body


# --- paramsms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("brand", "status"), [(None, 200), ("smsend", 200), ("skebby", 201)])
def test_paramsms_personalises_each_text(
    sandbox: SandboxServer, brand: str | None, status: int
) -> None:
    sandbox.configure(brand=brand)
    api = Api(sandbox)

    response = api.post("paramsms", _param(order_id="p-1", returnCredits=True))

    assert response.status_code == status, response.text
    assert response.json()["result"] == "OK"
    assert response.json()["order_id"] == "p-1"
    assert response.json()["total_sent"] == 2
    order = sandbox.order("p-1")
    assert order is not None
    assert order["endpoint"] == "paramsms"
    assert order["recipients"] == [ADA, BOB]
    assert order["texts"] == ["Ciao Ada, your code is A1", "Ciao Bob, your code is 42"]
    page = control(sandbox, "").text
    assert html.escape(f"{ADA}: Ciao Ada, your code is A1") in page
    assert html.escape(f"{BOB}: Ciao Bob, your code is 42") in page


def test_paramsms_takes_an_object_keyed_by_index(sandbox: SandboxServer) -> None:
    recipients = {"0": {"recipient": ADA, "name": "Ada"}, "1": {"recipient": BOB, "name": "B"}}

    response = Api(sandbox).post(
        "paramsms", _param(message="Hi ${name}", recipients=recipients, order_id="p-obj")
    )

    assert response.status_code == 200, response.text
    assert sandbox.order("p-obj")["texts"] == ["Hi Ada", "Hi B"]  # type: ignore[index]


def test_paramsms_checks_each_personalised_length(sandbox: SandboxServer) -> None:
    long_name = "x" * 1000
    recipients = [{"recipient": ADA, "name": "Ada"}, {"recipient": BOB, "name": long_name}]

    response = Api(sandbox).post("paramsms", _param(message="Hi ${name}!", recipients=recipients))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "MESSAGE_TOO_LONG"
    assert BOB in body["error_message"] and "1004 characters" in body["error_message"]
    assert sandbox.orders() == []


def test_paramsms_charges_each_recipients_parts(sandbox: SandboxServer) -> None:
    recipients = [{"recipient": ADA, "name": "Ada"}, {"recipient": BOB, "name": "y" * 200}]

    response = Api(sandbox).post(
        "paramsms", _param(message="Hi ${name}", recipients=recipients, returnCredits=True)
    )

    assert response.json()["total_sent"] == 1 + 2
    assert sandbox.snapshot()["credits"]["N"] == 100_000 - 3


@pytest.mark.parametrize(
    ("fields", "code", "phrase"),
    [
        ({"recipients": None}, "MISSING_FIELD", "recipients is missing"),
        ({"recipients": []}, "NO_RECIPIENTS", "non-empty"),
        ({"recipients": [{"name": "Ada"}]}, "INVALID_RECIPIENT", "recipients[0]"),
        ({"recipients": [{"recipient": "347"}]}, "INVALID_RECIPIENT", "'347'"),
        ({"recipients": [{"recipient": ADA}]}, "MISSING_PARAMETER", "${name}"),
        ({"recipients": [ADA]}, "INVALID_RECIPIENT", "recipients[0]"),
    ],
)
def test_paramsms_refusals(
    sandbox: SandboxServer, fields: dict[str, Any], code: str, phrase: str
) -> None:
    response = Api(sandbox).post("paramsms", _param(**fields))

    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    assert phrase in response.json()["error_message"]


def test_paramsms_skips_invalid_recipients_when_allowed(sandbox: SandboxServer) -> None:
    recipients = [{"recipient": "bad", "name": "X"}, {"recipient": ADA, "name": "Ada"}]

    response = Api(sandbox).post(
        "paramsms",
        _param(message="Hi ${name}", recipients=recipients, allowInvalidRecipients=True),
    )

    assert response.status_code == 200
    [order] = sandbox.orders()
    assert order["texts"] == ["Hi Ada"]
    assert order["dropped_recipients"] == ["bad"]


# --- smstogroups ------------------------------------------------------------------------------


@pytest.mark.parametrize(("brand", "status"), [(None, 200), ("skebby", 201)])
def test_smstogroups_sends_to_every_member_once(
    sandbox: SandboxServer, brand: str | None, status: int
) -> None:
    sandbox.configure(brand=brand)

    response = Api(sandbox).post("smstogroups", _groups(recipient=["clienti", "staff"]))

    assert response.status_code == status, response.text
    [order] = sandbox.orders()
    assert order["endpoint"] == "smstogroups"
    assert order["recipients"] == [ADA, BOB, CARLA]
    assert order["groups"] == ["clienti", "staff"]
    assert "groups: clienti, staff" in control(sandbox, "").text


def test_an_unknown_group_is_a_400_naming_it(sandbox: SandboxServer) -> None:
    response = Api(sandbox).post("smstogroups", _groups(recipient=["clienti", "fornitori"]))

    assert response.status_code == 400
    assert response.json()["code"] == "GROUP_NOT_FOUND"
    assert "'fornitori'" in response.json()["error_message"]
    assert "clienti, staff" in response.json()["error_message"]
    assert sandbox.orders() == []


def test_groups_set_through_the_config_endpoint(sandbox: SandboxServer) -> None:
    answer = control(sandbox, "config", {"groups": {"vip": [CARLA]}})
    assert answer.status_code == 200
    assert answer.json()["groups"] == {"vip": [CARLA]}

    response = Api(sandbox).post("smstogroups", _groups(recipient=["vip"]))

    assert response.status_code == 200
    assert sandbox.orders()[0]["recipients"] == [CARLA]
    refused = control(sandbox, "config", {"groups": {"vip": ["3471234567"]}})
    assert refused.status_code == 400
    assert "international number" in refused.json()["error_message"]


def test_groups_from_the_command_line() -> None:
    with start_sandbox_process(groups={"clienti": [ADA, BOB]}) as process:
        api = Api(process)  # type: ignore[arg-type]
        response = api.post("smstogroups", _groups())
        order = process.order(response.json()["order_id"])

    assert response.status_code == 200
    assert order is not None and order["recipients"] == [ADA, BOB]
    usage = subprocess.run(
        [sys.executable, "-m", "django_smsrest.sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert "--group NAME=NUMBERS" in usage


# --- shared with POST sms ---------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body"), [("paramsms", _param()), ("smstogroups", _groups())])
def test_order_ids_duplicates_and_delivery_work_as_for_sms(
    sandbox: SandboxServer, path: str, body: dict[str, Any]
) -> None:
    api = Api(sandbox)
    first = api.post(path, {**body, "order_id": "shared-1"})
    again = api.post(path, {**body, "order_id": "shared-1"})
    across = api.send(order_id="shared-1")

    assert first.status_code == 200
    assert again.status_code == across.status_code == 400
    assert again.json()["code"] == across.json()["code"] == "DUPLICATE_ORDER_ID"
    assert sandbox.post_count("shared-1") == 3
    states = api.get("sms/shared-1").json()["recipients"]
    assert [s["status"] for s in states] == ["WAITING", "WAITING"]
    sandbox.advance(3 * STEP)
    states = api.get("sms/shared-1").json()["recipients"]
    assert [s["status"] for s in states] == ["DLVRD", "DLVRD"]
    generated = api.post(path, body).json()["order_id"]
    assert len(generated) == 32


@pytest.mark.parametrize(("path", "body"), [("paramsms", _param()), ("smstogroups", _groups())])
def test_faults_strike_them_as_for_sms(
    sandbox: SandboxServer, path: str, body: dict[str, Any]
) -> None:
    api = Api(sandbox)
    sandbox.configure(error_after_next=1, rate_limit_next=1)

    limited = api.post(path, {**body, "order_id": "f-1"})
    after = api.post(path, {**body, "order_id": "f-1"})

    assert limited.status_code == 429
    assert after.status_code == 500
    assert sandbox.order("f-1") is not None  # accepted despite the 500
    sandbox.configure(drop_after_next=1)
    with pytest.raises(requests.ConnectionError):
        api.post(path, {**body, "order_id": "f-2"})
    assert sandbox.order("f-2") is not None
    assert sandbox.snapshot()["posts_total"] == 3
