"""Personalised messages (POST paramsms) and contact groups (POST smstogroups) through the
outbox: validation, the locmem backend, the client's wire format, and the sandbox over a
real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.core.exceptions import ValidationError
from django.test import override_settings

from django_smsrest import services
from django_smsrest.backends import locmem, rest
from django_smsrest.client import SmsRestClient
from django_smsrest.exceptions import GatewayRejected, GatewayServerError
from django_smsrest.models import Kind, OrderStatus, SmsMessage, Status
from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db

ADA, BOB = "+393471234567", "+393471234568"
TEMPLATE = "Ciao ${name}, a domani alle ${time}"
ROWS = [
    {"recipient": ADA, "name": "Ada", "time": "10:00"},
    {"recipient": BOB, "name": "Bob", "time": "11:30"},
]


@pytest.fixture(autouse=True)
def _locmem() -> Iterator[None]:
    locmem.reset()
    yield
    locmem.reset()


def _errors(*args: Any, **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        services.send_sms(*args, **kwargs)
    assert not SmsMessage.objects.exists() and locmem.outbox == []
    return caught.value.message_dict


# --- personalised -------------------------------------------------------------------------


def test_a_personalised_message_keeps_each_recipients_values() -> None:
    msg = services.send_sms(TEMPLATE, ROWS)
    assert msg.status == Status.SENT and msg.kind == Kind.PARAMS
    assert msg.message == TEMPLATE  # the template is kept...
    stored = dict(msg.recipients.values_list("phone_number", "params"))
    assert stored == {ADA: {"name": "Ada", "time": "10:00"}, BOB: {"name": "Bob", "time": "11:30"}}
    (order,) = locmem.outbox  # ...and one POST carries every recipient's values
    assert order.recipients == (ADA, BOB)
    assert [dict(p) for p in order.params] == [
        {"name": "Ada", "time": "10:00"},
        {"name": "Bob", "time": "11:30"},
    ]


def test_credits_are_the_sum_over_the_personalised_texts() -> None:
    long_name = "x" * 200  # "Ciao xxx…" is 2 segments, "Ciao Bo" 1
    checked = services.validate_sms(
        "Ciao ${name}", [{"recipient": ADA, "name": long_name}, {"recipient": BOB, "name": "Bo"}]
    )
    assert checked.credits == 3 and checked.segments == 2 and checked.kind == Kind.PARAMS


def test_every_placeholder_needs_a_value_and_every_value_a_placeholder() -> None:
    errors = _errors(
        TEMPLATE,
        [
            {"recipient": ADA, "name": "Ada"},
            {"recipient": BOB, "name": "Bob", "time": "9", "room": "3"},
        ],
    )
    text = " ".join(errors["recipients"])
    assert f"{ADA} has no value for ${{time}}" in text
    assert f"{BOB} has values for room, which the message does not use" in text


def test_maps_and_plain_numbers_are_not_mixed() -> None:
    errors = _errors("Ciao ${name}", [{"recipient": ADA, "name": "Ada"}, BOB])
    assert "Recipient 2 is '+393471234568', but the others are maps" in errors["recipients"][0]


def test_placeholders_without_values_are_refused() -> None:
    errors = _errors("Ciao ${name}", [ADA])
    assert "placeholders (${name})" in errors["message"][0]


def test_a_personalised_text_too_long_names_its_recipient() -> None:
    errors = _errors(
        "${text}", [{"recipient": ADA, "text": "ok"}, {"recipient": BOB, "text": "ж" * 451}]
    )
    assert errors["message"][0].startswith(f"The text for {BOB},")
    assert "too long" in " ".join(errors["message"])


def test_a_value_with_a_placeholder_is_not_substituted_twice() -> None:
    checked = services.validate_sms("${a}", [{"recipient": ADA, "a": "${a}${a}"}])
    assert checked.credits == 1


def test_resend_repeats_exactly_what_was_sent() -> None:
    original = services.send_sms(TEMPLATE, ROWS)
    again = services.resend(original, defer=False)
    assert again.kind == Kind.PARAMS and again.resend_of == original
    assert [dict(p) for p in locmem.outbox[-1].params] == [
        dict(p) for p in locmem.outbox[0].params
    ]


def test_personalised_orders_are_chunked_with_their_values() -> None:
    with override_settings(SMSREST={**SMSREST, "MAX_RECIPIENTS_PER_ORDER": 1}):
        msg = services.send_sms(TEMPLATE, ROWS)
    assert msg.orders.count() == 2
    assert [(o.recipients, [dict(p) for p in o.params]) for o in locmem.outbox] == [
        ((ADA,), [{"name": "Ada", "time": "10:00"}]),
        ((BOB,), [{"name": "Bob", "time": "11:30"}]),
    ]


def test_a_lost_answer_is_reconciled_not_posted_again() -> None:
    locmem.fail_next("send", GatewayServerError("HTTP 502", status_code=502), accept=True)
    msg = services.send_sms(TEMPLATE, ROWS)
    assert msg.status == Status.SENT and len(locmem.outbox) == 1


# --- contact groups -----------------------------------------------------------------------


def test_a_message_to_contact_groups() -> None:
    locmem.set_groups({"clienti": [ADA, BOB], "staff": [BOB]})
    msg = services.send_sms("Chiuso lunedì", groups=["clienti", "staff"])
    assert msg.status == Status.SENT and msg.kind == Kind.GROUPS
    assert msg.groups == ["clienti", "staff"] and msg.total_sent == 2
    assert locmem.outbox[0].groups == ("clienti", "staff") and locmem.outbox[0].recipients == ()


def test_an_unknown_group_fails_with_the_gateways_reason_and_is_not_retried() -> None:
    locmem.set_groups({"clienti": [ADA]})
    msg = services.send_sms("Ciao", groups=["clieNti"])
    assert msg.status == Status.FAILED and msg.attempts == 1
    assert "group not found: clieNti" in msg.last_error
    assert msg.orders.get().status == OrderStatus.REJECTED


def test_recipients_or_groups_not_both() -> None:
    errors = _errors("Ciao", [ADA], groups=["clienti"])
    assert "not both" in errors["recipients"][0]
    assert "list of group names" in _errors("Ciao", groups=[""])["groups"][0]


def test_delivery_states_of_a_group_message_appear_with_the_first_report() -> None:
    locmem.set_groups({"clienti": [ADA, BOB]})
    msg = services.send_sms("Ciao", groups=["clienti"])
    locmem.set_delivery_state("DLVRD")
    msg = services.refresh_status(msg)
    assert msg.status == Status.DELIVERED
    assert sorted(msg.recipients.values_list("phone_number", flat=True)) == [ADA, BOB]
    assert msg.recipient_count == 2


# --- the wire ------------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("keyed", [False, True])
def test_paramsms_body_and_a_200_answer(keyed: bool) -> None:
    base = "https://api.example.test/API/v1.0/REST/"
    responses.get(base + "login", body="U;S")
    responses.post(
        base + "paramsms",
        status=200,  # smSend answers 200, Skebby 201
        json={"result": "OK", "order_id": "o1", "total_sent": 2, "remaining_credits": 9},
    )
    client = SmsRestClient(base, "user", "secret")
    maps = [{"recipient": ADA, "name": "Ada"}, {"recipient": BOB, "name": "Bob"}]
    result = client.send_params("Ciao ${name}", maps, message_type="N", order_id="o1", keyed=keyed)
    assert result.total_sent == 2 and result.remaining_credits == 9
    body = json.loads(responses.calls[-1].request.body)
    assert body["message"] == "Ciao ${name}" and "recipient" not in body
    assert body["recipients"] == ({"0": maps[0], "1": maps[1]} if keyed else maps)


@responses.activate
def test_smstogroups_body_and_an_unknown_group() -> None:
    base = "https://api.example.test/API/v1.0/REST/"
    responses.get(base + "login", body="U;S")
    responses.post(base + "smstogroups", status=400, json={"error": "Group not found: vip"})
    client = SmsRestClient(base, "user", "secret")
    with pytest.raises(GatewayRejected, match="Group not found: vip"):
        client.send_to_groups("Ciao", ["vip"], message_type="N", order_id="g1")
    assert json.loads(responses.calls[-1].request.body)["recipient"] == ["vip"]


# --- the sandbox over a real socket --------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    rest.reset_clients()
    with run_sandbox(step=0.05, seed=1, groups={"clienti": [ADA, BOB]}) as server:
        settings = {
            **SMSREST,
            **server.smsrest_settings(),
            "BACKEND": "django_smsrest.backends.rest.RestBackend",
            "TIMEOUT": (2.0, 1.0),
        }
        with override_settings(SMSREST=settings):
            yield server
    rest.reset_clients()


def test_personalised_end_to_end(sandbox: SandboxServer) -> None:
    msg = services.send_sms(TEMPLATE, ROWS)
    assert msg.status == Status.SENT and msg.total_sent == 2
    order = sandbox.order(msg.order_id)
    assert order is not None and sandbox.post_count(msg.order_id) == 1
    assert order["texts"] == ["Ciao Ada, a domani alle 10:00", "Ciao Bob, a domani alle 11:30"]
    sandbox.advance(60)
    assert services.refresh_status(msg).status == Status.DELIVERED


def test_groups_end_to_end(sandbox: SandboxServer) -> None:
    msg = services.send_sms("Chiuso lunedì", groups=["clienti"])
    assert msg.status == Status.SENT and msg.total_sent == 2
    sandbox.advance(60)
    msg = services.refresh_status(msg)
    assert msg.status == Status.DELIVERED and msg.recipient_count == 2
    failed = services.send_sms("Ciao", groups=["nessuno"])
    assert failed.status == Status.FAILED and "nessuno" in failed.last_error


# --- manage.py send_sms --csv / --group -----------------------------------------------------


def _command(*argv: str) -> tuple[int, str, str]:
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("send_sms", *argv, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), err.getvalue()


def test_command_csv_dry_run_shows_the_first_texts_and_the_credits(tmp_path: Any) -> None:
    sheet = tmp_path / "reminders.csv"
    sheet.write_text(
        "\ufeffrecipient,name,time\n+393471234567,Anna,10:00\n+393471234568,Bruno,11:30\n",
        encoding="utf-8",
    )
    code, out, _err = _command("--csv", str(sheet), "--dry-run", TEMPLATE)
    assert code == 0, _err
    assert f"text for {ADA}: Ciao Anna, a domani alle 10:00" in out
    assert f"text for {BOB}: Ciao Bruno, a domani alle 11:30" in out
    assert "credits:     2" in out
    assert not SmsMessage.objects.exists()
    code, out, _err = _command("--csv", str(sheet), TEMPLATE)
    assert code == 0, _err
    assert SmsMessage.objects.get().kind == Kind.PARAMS
    assert len(locmem.outbox) == 1 and len(locmem.outbox[0].params) == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("number,name\n+393471234567,Anna\n", "has no “recipient” column"),
        ("recipient,name\n+393471234567\n", "line 2: not as many values as columns"),
        ("recipient,name\n+393471234567,Anna,extra\n", "line 2: not as many values as columns"),
        (b"recipient,name\n+393471234567,Caf\xe9\n", "is not UTF-8 text"),
        ("recipient,name,room\n+393471234567,Anna,3\n", "does not use: remove them"),
    ],
)
def test_command_csv_refusals_exit_2(tmp_path: Any, content: Any, expected: str) -> None:
    sheet = tmp_path / "bad.csv"
    (sheet.write_bytes if isinstance(content, bytes) else sheet.write_text)(content)
    code, _out, err = _command("--csv", str(sheet), "Ciao ${name}")
    assert code == 2 and expected in err
    assert not SmsMessage.objects.exists()


def test_command_csv_missing_file_exits_2() -> None:
    code, _out, err = _command("--csv", "/nonexistent/file.csv", "Ciao ${name}")
    assert code == 2 and "cannot read /nonexistent/file.csv" in err


def test_command_group(tmp_path: Any) -> None:
    locmem.set_groups({"clienti": [ADA, BOB]})
    code, out, err = _command("--group", "clienti", "Chiuso lunedì")
    assert code == 0, err
    assert "to the group clienti: Sent" in out
    assert SmsMessage.objects.get().groups == ["clienti"]
    code, _out, err = _command("--group", "clienti", "--to", ADA, "Ciao")
    assert code == 2 and "one of --to, --group or --csv" in err
