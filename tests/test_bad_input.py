"""The bad-input catalogue: one table, every entry point, the error a person sees.

Each row feeds one bad (or tricky) input to one entry point and checks two things: the
text a person reads (the ``ValidationError`` of the Python API, the command's message and
exit status 2, the error under the admin form's field, the sandbox's ``error_message``),
and that nothing was written (no ``SmsMessage``/``SmsOrder``/``SmsRecipient`` row) when the
input is refused. Tricky inputs that are valid (duplicates, emoji, an escape character on
a segment boundary, 20,000 recipients, HTML in the text) assert the correct result
instead; gateway answers that make no sense (not JSON, truncated, odd status codes) are
mocked with ``responses`` through the REST backend and must leave a consistent row in a
sensible state (reconciled with ``GET sms/{order_id}``), never a crash.
"""

from __future__ import annotations

import dataclasses
import html
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
import responses
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.backends.rest import reset_clients
from django_smsrest.models import OrderStatus, SmsMessage, SmsOrder, SmsRecipient, Status
from django_smsrest.testing import run_sandbox
from tests.reliability import REPO

A = "+393471234567"
B = "+393471234568"
GATEWAY = "https://gateway.test/API/v1.0/REST/"


@dataclass(frozen=True)
class Row:
    """One input. ``channel``: api | api_ok | command | cli | admin | sandbox | gateway.

    ``expect``: texts the person must see (all of them). ``field``: where (API / admin).
    ``check``: for rows whose input is accepted, a function asserting the result.
    """

    id: str
    channel: str
    input: dict[str, Any]
    expect: tuple[str, ...] = ()
    field: str | None = None
    check: Callable[..., None] | None = None
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)


def _future() -> datetime:
    return timezone.now() + timedelta(days=2)


def _past() -> datetime:
    return timezone.now() - timedelta(hours=1)


# --- checks for accepted inputs -----------------------------------------------------------


def _dedup(msg: SmsMessage, **_: Any) -> None:
    assert list(msg.recipients.values_list("phone_number", flat=True)) == [A, B]
    assert msg.recipient_count == 2 and msg.status == Status.SENT
    assert [order.recipients for order in locmem.outbox] == [(A, B)]


def _emoji_one_segment(msg: SmsMessage, **_: Any) -> None:
    assert (msg.encoding, msg.segments) == ("ucs2", 1)  # 35 emoji = 70 UTF-16 units
    assert locmem.outbox[0].encoding == "ucs2"


def _emoji_two_segments(msg: SmsMessage, **_: Any) -> None:
    assert (msg.encoding, msg.segments) == ("ucs2", 2)  # 36 emoji = 72 units > 70


def _escape_straddles(msg: SmsMessage, **_: Any) -> None:
    # 152 + 2 (the "€" escape pair) + 152 = 306 septets, 2 x 153 by arithmetic, but the
    # pair cannot be split: part 1 holds 152, part 2 "€" + 151, part 3 the last one.
    assert (msg.encoding, msg.segments) == ("gsm", 3)


def _huge_list(msg: SmsMessage, **_: Any) -> None:
    assert msg.recipient_count == 20_000 and msg.status == Status.SENT
    assert SmsOrder.objects.filter(message=msg, status=OrderStatus.ACCEPTED).count() == 20
    assert SmsRecipient.objects.filter(message=msg).count() == 20_000
    assert [len(order.recipients) for order in locmem.outbox] == [1000] * 20
    assert len({order.order_id for order in locmem.outbox}) == 20


def _html_escaped(msg: SmsMessage, client: Any, **_: Any) -> None:
    raw = msg.message
    for url in (
        "/admin/django_smsrest/smsmessage/",
        f"/admin/django_smsrest/smsmessage/{msg.pk}/change/",
    ):
        page = client.get(url).content.decode()
        assert "<script>alert('x')</script>" not in page, url
        assert "&lt;script&gt;" in page, url
        assert "<b>bold</b>" not in page
    assert locmem.outbox[0].message == raw  # sent as typed: escaping is for HTML only


# --- gateway answers (REST backend, HTTP mocked) ---------------------------------------------

ORDER_URL = re.compile(re.escape(GATEWAY) + r"sms/[0-9a-f]{32}")
FOUND = {"recipient_number": 1, "recipients": [{"destination": A, "status": "WAITING"}]}


def _gateway_row(
    id: str,
    post: dict[str, Any],
    get: dict[str, Any],
    status: str,
    order_status: str,
    expect: tuple[str, ...],
) -> Row:
    return Row(
        id,
        "gateway",
        {"post": post, "get": get},
        expect,
        check=None,
        settings={"status": status, "order_status": order_status},
    )


GATEWAY_ROWS = [
    _gateway_row(
        "gateway-201-not-json",
        {"status": 201, "body": "<html>Service temporarily unavailable</html>"},
        {"status": 200, "json": FOUND},
        Status.SENT,
        OrderStatus.ACCEPTED,
        (),
    ),
    _gateway_row(
        "gateway-201-truncated-json",
        {"status": 201, "body": '{"result": "OK", "order_id": "ab'},
        {"status": 200, "json": FOUND},
        Status.SENT,
        OrderStatus.ACCEPTED,
        (),
    ),
    _gateway_row(
        "gateway-201-without-total_sent",
        {"status": 201, "json": {"result": "OK"}},
        {"status": 200, "json": FOUND},
        Status.SENT,
        OrderStatus.ACCEPTED,
        (),
    ),
    _gateway_row(
        "gateway-302-redirect",
        {"status": 302, "body": "", "headers": {"Location": "https://elsewhere.test/"}},
        {"status": 404, "json": {"result": "KO"}},
        Status.QUEUED,
        OrderStatus.PENDING,
        ("redirect (HTTP 302) to https://elsewhere.test/", "BASE_URL", "will retry"),
    ),
    _gateway_row(
        "gateway-418-unexpected-status",
        {"status": 418, "body": "I'm a teapot"},
        {"status": 404, "json": {"result": "KO"}},
        Status.QUEUED,
        OrderStatus.PENDING,
        ("unexpected HTTP 418", "will retry"),
    ),
    _gateway_row(
        "gateway-500-html-page",
        {"status": 500, "body": "<html><body>Internal Server Error</body></html>"},
        {"status": 404, "json": {"result": "KO"}},
        Status.QUEUED,
        OrderStatus.PENDING,
        ("HTTP 500", "will retry"),
    ),
    _gateway_row(
        "gateway-answer-and-lookup-both-garbage",
        {"status": 201, "body": "{{{"},
        {"status": 200, "body": "not json either"},
        Status.UNKNOWN,
        OrderStatus.PENDING,
        ("Outcome unknown", "Will check again"),
    ),
]


# --- the table ------------------------------------------------------------------------------


def _api(id: str, expect: tuple[str, ...], field: str, **kwargs: Any) -> Row:
    kwargs.setdefault("message", "Hello")
    kwargs.setdefault("recipients", [A])
    return Row(id, "api", kwargs, expect, field)


ROWS: list[Row] = [
    # Python API: refused, nothing written.
    _api(
        "api-malformed-number",
        ("“+39 abc” is not a phone number",),
        "recipients",
        recipients=["+39 abc"],
    ),
    _api(
        "api-number-too-short",
        ("“123” is not a valid phone number",),
        "recipients",
        recipients=["123"],
    ),
    _api(
        "api-number-too-long",
        ("is not a valid phone number",),
        "recipients",
        recipients=["+3934712345678901234"],
    ),
    Row(
        "api-national-number-without-region",
        "api",
        {"message": "Hi", "recipients": ["347 123 4567"]},
        ("has no country code", "DEFAULT_REGION"),
        "recipients",
        settings={"DEFAULT_REGION": None},
    ),
    _api(
        "api-unknown-country-code",
        ("has an unknown country code",),
        "recipients",
        recipients=["+999 1234567"],
    ),
    _api(
        "api-number-with-extension",
        ("cannot be sent to an extension",),
        "recipients",
        recipients=["+39 347 1234567 ext. 12"],
    ),
    _api(
        "api-one-bad-number-among-good-ones",
        ("“12345” is not a valid phone number",),
        "recipients",
        recipients=[A, "12345", B],
    ),
    _api("api-empty-text", ("The message is empty",), "message", message=""),
    _api("api-whitespace-text", ("The message is empty",), "message", message=" \n\t "),
    _api("api-no-recipients", ("Add at least one recipient",), "recipients", recipients=[]),
    _api(
        "api-gsm-over-limit",
        ("1001 characters in GSM-7", "at most 1000"),
        "message",
        message="a" * 1001,
    ),
    _api(
        "api-ucs2-over-limit",
        ("451 characters in UCS-2", "because of “ç”", "at most 450"),
        "message",
        message="ç" * 451,
    ),
    _api(
        "api-ucs2-too-many-segments",
        ("make 8 SMS segments", "at most 7 segments"),
        "message",
        message="😀" * 234,
    ),
    _api(
        "api-gsm-escapes-too-many-segments",
        ("540 characters in GSM-7 make 8 SMS segments",),
        "message",
        message="€" * 540,
    ),
    _api(
        "api-sender-too-long",
        ("“ABCDEFGHIJKL” is too long: 12 characters",),
        "sender",
        sender="ABCDEFGHIJKL",
    ),
    _api(
        "api-numeric-sender-too-long",
        ("numeric sender", "at most 16"),
        "sender",
        sender="+39347123456789012",
    ),
    _api(
        "api-sender-not-allowed-for-type",
        ("Message type LL does not allow a custom sender",),
        "sender",
        sender="ACME",
        message_type="LL",
    ),
    _api("api-sender-bad-characters", ("cannot be used: “<”, “>”",), "sender", sender="AC<ME>"),
    _api(
        "api-past-datetime",
        ("is in the past",),
        "scheduled_delivery_time",
        scheduled_delivery_time=_past(),
    ),
    _api(
        "api-naive-datetime",
        ("has no time zone",),
        "scheduled_delivery_time",
        scheduled_delivery_time=datetime(2031, 1, 1, 9, 0),
    ),
    _api(
        "api-unknown-message-type",
        ("Unknown message type “ZZ”", "N (", "LL ("),
        "message_type",
        message_type="ZZ",
    ),
    _api(
        "api-low-cost-type-two-segments",
        ("too long for message type LL", "only 1 segment"),
        "message",
        message="a" * 161,
        message_type="LL",
    ),
    # Tricky but valid: the correct result.
    Row(
        "api-duplicates-are-merged",
        "api_ok",
        {"message": "Hi", "recipients": [A, "0039 347 1234567", "+39 347-123-4567", B, A]},
        check=_dedup,
    ),
    Row(
        "api-35-emoji-switch-to-ucs2",
        "api_ok",
        {"message": "😀" * 35, "recipients": [A]},
        check=_emoji_one_segment,
    ),
    Row(
        "api-36-emoji-two-segments",
        "api_ok",
        {"message": "😀" * 36, "recipients": [A]},
        check=_emoji_two_segments,
    ),
    Row(
        "api-escape-pair-on-segment-boundary",
        "api_ok",
        {"message": "a" * 152 + "€" + "b" * 152, "recipients": [A]},
        check=_escape_straddles,
    ),
    Row(
        "api-20000-recipients-chunked",
        "api_ok",
        {"message": "Hi", "recipients": [f"+39347{1_000_000 + i}" for i in range(20_000)]},
        check=_huge_list,
    ),
    Row(
        "api-html-in-text-escaped-in-admin",
        "api_ok",
        {"message": "<script>alert('x')</script> & <b>bold</b>", "recipients": [A]},
        check=_html_escaped,
    ),
    # The command: exit status 2, a clear message, nothing written.
    Row(
        "command-invalid-number",
        "command",
        {"argv": ["--to", "123", "Hi"]},
        (
            "invalid SMS",
            "--to: “123” is not a valid phone number",
        ),
    ),
    Row(
        "command-past-time",
        "command",
        {"argv": ["--to", A, "--at", "2020-01-31T09:00", "Hi"]},
        ("--at: ", "is in the past"),
    ),
    Row(
        "command-unreadable-time",
        "command",
        {"argv": ["--to", A, "--at", "tomorrow", "Hi"]},
        ("--at 'tomorrow' is not an ISO 8601 date-time",),
    ),
    Row(
        "command-date-without-time",
        "command",
        {"argv": ["--to", A, "--at", "2030-01-31", "Hi"]},
        ("has no time of day",),
    ),
    Row(
        "command-unknown-type",
        "command",
        {"argv": ["--to", A, "--type", "ZZ", "Hi"]},
        ("--type: Unknown message type “ZZ”",),
    ),
    Row("command-empty-text", "command", {"argv": ["--to", A, ""]}, ("The message is empty",)),
    Row(
        "command-sender-too-long",
        "command",
        {"argv": ["--to", A, "--sender", "ABCDEFGHIJKL", "Hi"]},
        ("--sender: The sender",),
    ),
    Row("command-no-recipient", "command", {"argv": ["Hi"]}, ("give at least one recipient",)),
    Row(
        "command-bad-limit",
        "command",
        {"argv": ["--flush", "--limit", "0"]},
        ("--limit must be at least 1",),
    ),
    Row(
        "command-mixed-modes",
        "command",
        {"argv": ["--flush", "--to", A]},
        ("--to cannot be combined with --flush",),
    ),
    Row(
        "cli-invalid-number-exit-2",
        "cli",
        {"argv": ["--to", "12", "Hi"]},
        ("“12” is not a valid phone number",),
    ),
    Row(
        "cli-emoji-too-long-exit-2",
        "cli",
        {"argv": ["--to", A, "😀" * 300]},
        ("UCS-2", "make 10 SMS segments", "at most 7 segments"),
    ),
    # The admin add form: the error under the field, shown escaped; nothing written.
    Row(
        "admin-script-as-recipient",
        "admin",
        {"recipients": "<script>alert(1)</script>"},
        ("“<script>alert(1)</script>” is not a phone number",),
        "recipients",
    ),
    Row("admin-empty-message", "admin", {"message": ""}, ("The message is empty",), "message"),
    Row(
        "admin-past-time",
        "admin",
        {"scheduled_delivery_time_0": "2020-01-31", "scheduled_delivery_time_1": "09:00"},
        ("is in the past",),
        "scheduled_delivery_time",
    ),
    Row("admin-sender-too-long", "admin", {"sender": "ABCDEFGHIJKL"}, ("is too long",), "sender"),
    Row(
        "admin-national-number-without-region",
        "admin",
        {"recipients": "347 123 4567"},
        ("has no country code",),
        "recipients",
        settings={"DEFAULT_REGION": None},
    ),
    Row("admin-text-too-long", "admin", {"message": "x" * 1001}, ("at most 1000",), "message"),
    # The sandbox: 400 with a readable error_message.
    Row("sandbox-empty-message", "sandbox", {"message": ""}, ("message is empty",)),
    Row(
        "sandbox-invalid-recipient",
        "sandbox",
        {"recipient": ["12"]},
        ("Recipient '12' is not a valid international number",),
    ),
    Row(
        "sandbox-no-recipient",
        "sandbox",
        {"recipient": []},
        ("recipient must be a non-empty list",),
    ),
    Row(
        "sandbox-sender-too-long",
        "sandbox",
        {"sender": "ABCDEFGHIJKLMNOPQ"},
        ("sender 'ABCDEFGHIJKLMNOPQ' is not valid",),
    ),
    Row(
        "sandbox-unknown-type",
        "sandbox",
        {"message_type": "ZZ"},
        ("message_type 'ZZ' is not a known message type",),
    ),
    Row(
        "sandbox-bad-order-id",
        "sandbox",
        {"order_id": "bad id!"},
        ("order_id must be 1 to 32 characters",),
    ),
    Row(
        "sandbox-past-time",
        "sandbox",
        {"scheduled_delivery_time": "20200101090000"},
        ("is in the past",),
    ),
    Row("sandbox-too-long", "sandbox", {"message": "a" * 1001}, ("1001 characters long", "limit")),
    Row(
        "sandbox-non-gsm-as-gsm",
        "sandbox",
        {"message": "ciao ç", "encoding": "gsm"},
        ("not in the GSM 7-bit alphabet",),
    ),
    Row(
        "sandbox-sender-for-low-cost",
        "sandbox",
        {"message_type": "LL", "sender": "ACME"},
        ("does not allow a custom sender",),
    ),
    Row("sandbox-body-not-json", "sandbox", {"raw": "not json{"}, ("not valid UTF-8 JSON",)),
    Row(
        "sandbox-duplicate-order-id",
        "sandbox",
        {"order_id": "dup-1", "twice": True},
        ("already used for an accepted order; nothing was sent again",),
    ),
    *GATEWAY_ROWS,
]


def _rows_written() -> tuple[int, int, int]:
    return (SmsMessage.objects.count(), SmsOrder.objects.count(), SmsRecipient.objects.count())


def _field_errors(page: str, name: str) -> str:
    """The text of the error list under form field ``name`` (unescaped)."""
    found = re.search(rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', page, re.S)
    assert found, f"no error shown on field {name!r}"
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


@pytest.fixture
def sms_setup(settings: Any) -> Any:
    locmem.reset()
    yield settings
    locmem.reset()
    reset_clients()


@pytest.mark.django_db
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_catalogue(row: Row, sms_setup: Any, admin_client: Any) -> None:
    settings = sms_setup
    smsrest = {**settings.SMSREST}
    for key, value in row.settings.items():
        if key.isupper():
            smsrest[key] = value
    settings.SMSREST = smsrest
    handler = globals()[f"_run_{row.channel}"]
    handler(row, settings=settings, client=admin_client)


def _run_api(row: Row, **_: Any) -> None:
    data = dict(row.input)
    with pytest.raises(ValidationError) as caught:
        services.send_sms(data.pop("message"), data.pop("recipients"), **data)
    errors = caught.value.message_dict
    assert row.field in errors, errors
    text = " ".join(errors[row.field])
    for expected in row.expect:
        assert expected in text, (expected, text)
    assert _rows_written() == (0, 0, 0)
    assert locmem.outbox == []
    # validate_sms (what forms and the command call) says the same thing.
    data = dict(row.input)
    with pytest.raises(ValidationError) as again:
        services.validate_sms(data.pop("message"), data.pop("recipients"), **data)
    assert again.value.message_dict == errors


def _run_api_ok(row: Row, client: Any, **_: Any) -> None:
    msg = services.send_sms(row.input["message"], row.input["recipients"])
    assert row.check is not None
    row.check(msg, client=client)


def _run_command(row: Row, **_: Any) -> None:
    with pytest.raises(CommandError) as caught:
        call_command("send_sms", *row.input["argv"])
    assert caught.value.returncode == 2  # what manage.py exits with
    for expected in row.expect:
        assert expected in str(caught.value), (expected, str(caught.value))
    assert _rows_written() == (0, 0, 0)


def _run_cli(row: Row, **_: Any) -> None:
    """A real ``manage.py``-style process: the exit status and stderr a shell user sees."""
    done = subprocess.run(
        [sys.executable, "-m", "django", "send_sms", *row.input["argv"]],
        cwd=REPO,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    for expected in row.expect:
        assert expected in done.stderr, (expected, done.stderr)
    assert "Traceback" not in done.stderr
    assert _rows_written() == (0, 0, 0)


def _run_admin(row: Row, client: Any, **_: Any) -> None:
    data = {
        "message": "Hello",
        "recipients": A,
        "message_type": "N",
        "sender": "",
        "scheduled_delivery_time_0": "",
        "scheduled_delivery_time_1": "",
        "_save": "Save",
        **row.input,
    }
    response = client.post("/admin/django_smsrest/smsmessage/add/", data)
    assert response.status_code == 200  # the form again, not a redirect
    page = response.content.decode()
    assert row.field is not None
    shown = _field_errors(page, row.field)
    for expected in row.expect:
        assert expected in shown, (expected, shown)
        # Escaped in the HTML: user input never becomes markup.
        if "<" in expected:
            assert expected not in page
            assert html.escape(expected, quote=False) in page or html.escape(expected) in page
    assert _rows_written() == (0, 0, 0)
    assert locmem.outbox == []


def _run_sandbox(row: Row, **_: Any) -> None:
    # strict_schedule: by default the sandbox sends a past scheduled time at once (the
    # documentation does not say the gateway refuses it); the catalogue wants the refusal.
    with run_sandbox(strict_schedule=True) as sandbox:
        base = sandbox.base_url
        user_key, session_key = requests.get(
            base + "login", params={"username": "sandbox", "password": "sandbox"}, timeout=5
        ).text.split(";")
        headers = {"user_key": user_key, "Session_key": session_key}
        body = {"message_type": "N", "message": "Hi", "recipient": [A], **row.input}
        twice = body.pop("twice", False)
        raw = body.pop("raw", None)
        if twice:
            first = requests.post(base + "sms", json=body, headers=headers, timeout=5)
            assert first.status_code == 201
        if raw is not None:
            response = requests.post(
                base + "sms",
                data=raw,
                headers={**headers, "Content-Type": "application/json"},
                timeout=5,
            )
        else:
            response = requests.post(base + "sms", json=body, headers=headers, timeout=5)
        assert response.status_code == 400, response.text
        answer = response.json()
        assert answer["result"] == "KO"
        for expected in row.expect:
            assert expected in answer["error_message"], (expected, answer)
        accepted = len(sandbox.orders())
        assert accepted == (1 if twice else 0)  # the refused POST stored nothing


def _run_gateway(row: Row, settings: Any, **_: Any) -> None:
    settings.SMSREST = {
        **settings.SMSREST,
        "BACKEND": "django_smsrest.backends.rest.RestBackend",
        "BASE_URL": GATEWAY,
    }
    reset_clients()
    post, get = row.input["post"], row.input["get"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(GATEWAY + "login", body="UK;SK", status=200)
        mock.post(GATEWAY + "sms", **post)
        mock.get(ORDER_URL, **get)
        msg = services.send_sms("Hello", [A])
        posts = [c for c in mock.calls if c.request.method == "POST"]
        gets = [c for c in mock.calls if c.request.method == "GET" and "/sms/" in c.request.url]
    msg.refresh_from_db()
    assert len(posts) == 1  # never re-POSTed blindly
    assert len(gets) == 1  # the outcome was checked before anything else
    assert msg.status == row.settings["status"], msg.last_error
    # One consistent row set: the message, its order, its recipient; states that agree.
    order = SmsOrder.objects.get(message=msg)
    assert order.status == row.settings["order_status"]
    assert order.order_id == msg.order_id
    assert list(msg.recipients.values_list("phone_number", flat=True)) == [A]
    assert msg.claim_token == "" and msg.lease_until is None  # released, not stuck
    if msg.status == Status.SENT:
        assert msg.total_sent == 1 and msg.last_error == ""
    else:
        assert msg.next_attempt_at is not None  # a retry / a new check is planned
    for expected in row.expect:
        assert expected in msg.last_error, (expected, msg.last_error)
    if msg.status == Status.UNKNOWN:
        # UNKNOWN then reconciled: the sweeper asks again once the check is due.
        with responses.RequestsMock() as mock:
            mock.get(ORDER_URL, status=200, json=FOUND)
            report = services.sweep(now=msg.next_attempt_at + timedelta(seconds=1))
        assert report.reconciled == {Status.SENT: 1}
        msg.refresh_from_db()
        assert msg.status == Status.SENT and msg.total_sent == 1
