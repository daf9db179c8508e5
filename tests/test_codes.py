"""Login codes as a kind of message (issue 22, items 2-4): sent at once and ahead of the bulk
queue, never after they expired, never kept in clear."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from django_smsrest import codes, services, signals
from django_smsrest.backends import locmem
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import GatewayConnectionError, GatewayTimeout
from django_smsrest.models import OrderStatus, SmsMessage, SmsOrder, Status
from django_smsrest.testing import outbox as outbox_helpers
from django_smsrest.testing.tasks import no_task_worker
from tests.settings import SMSREST

sms_outbox = outbox_helpers.sms_outbox

pytestmark = pytest.mark.django_db

NUMBER = "+393471234567"
CODE = "482913"
TEXT = f"Il tuo codice è {CODE}"
MASKED = "Il tuo codice è ••••••"
NO_LIMITS = {**SMSREST, "RATE_LIMITS": None}


@pytest.fixture(autouse=True)
def _clean(clean_gateway):
    yield


@pytest.fixture
def posted(receiver_list):
    return receiver_list


@pytest.fixture
def receiver_list():
    calls: list[dict[str, Any]] = []

    def record(sender: Any, **kwargs: Any) -> None:
        calls.append(
            {**kwargs, "text": kwargs["message"].message, "status": kwargs["message"].status}
        )

    signals.post_send.connect(record, dispatch_uid="test-codes-post")
    signals.pre_send.connect(record, dispatch_uid="test-codes-pre")
    yield calls
    signals.post_send.disconnect(dispatch_uid="test-codes-post")
    signals.pre_send.disconnect(dispatch_uid="test-codes-pre")


def dump_everything() -> str:
    """Every row of every table, as JSON: what an attacker with the database sees."""
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


def expire(msg: SmsMessage) -> None:
    SmsMessage.objects.filter(pk=msg.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1), next_attempt_at=None
    )


def test_a_code_is_sent_inline_with_the_clear_text_and_stored_masked(sms_outbox, caplog):
    caplog.set_level(logging.DEBUG)
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    assert msg.status == Status.SENT
    assert [order.message for order in sms_outbox] == [TEXT]  # only the gateway sees it
    assert msg.message == MASKED
    assert msg.is_code and msg.priority == codes.CODE_PRIORITY
    assert msg.message_type == get_settings().code_message_type == "N"  # high quality
    left = (msg.expires_at - timezone.now()).total_seconds()
    assert 170 < left <= 180
    assert CODE not in dump_everything()
    assert CODE not in caplog.text
    # Its clear text is gone from the cache once it was sent.
    assert cache.get(f"django_smsrest:code:{msg.order_id}") is None


def test_signals_see_the_masked_text(sms_outbox, posted):
    services.send_code(TEXT, NUMBER, code=CODE)
    assert [call["text"] for call in posted] == [MASKED, MASKED]


@override_settings(SMSREST={**SMSREST, "CODE_VALID_SECONDS": 30, "CODE_MESSAGE_TYPE": "L"})
def test_settings_and_per_message_validity(sms_outbox):
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    assert msg.message_type == "L"
    assert (msg.expires_at - timezone.now()).total_seconds() <= 30
    other = services.send_code("Code 777111", NUMBER, code="777111", valid_seconds=600)
    assert (other.expires_at - timezone.now()).total_seconds() > 590


def test_bad_code_input_is_refused_before_anything_is_written(sms_outbox):
    with pytest.raises(ValidationError) as exc:
        services.send_code("Il tuo codice", NUMBER, code=CODE, valid_seconds=-1)
    assert set(exc.value.message_dict) == {"message", "valid_seconds"}
    with pytest.raises(ValidationError) as exc:
        services.send_code(TEXT, "12", code=CODE)
    assert "recipients" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.send_code(TEXT, NUMBER, code="")
    assert not SmsMessage.objects.exists()
    assert not sms_outbox


def test_a_code_retried_within_its_validity_goes_out_in_clear(sms_outbox):
    locmem.fail_next("send", GatewayConnectionError("down"))
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    assert msg.status == Status.QUEUED
    assert CODE not in dump_everything()  # waiting: still only in the cache
    SmsMessage.objects.filter(pk=msg.pk).update(next_attempt_at=None)
    services.flush_queue()
    msg.refresh_from_db()
    assert msg.status == Status.SENT
    assert [order.message for order in sms_outbox] == [TEXT]


def test_an_expired_code_is_never_posted(sms_outbox, posted):
    locmem.fail_next("send", GatewayConnectionError("down"))
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    expire(msg)
    report = services.flush_queue()
    msg.refresh_from_db()
    assert msg.status == Status.EXPIRED
    assert msg.last_error == "The login code expired before it could be sent."
    assert report.by_status == {Status.EXPIRED: 1}
    assert not sms_outbox
    assert locmem.calls("send") == 1  # the first attempt only
    assert SmsOrder.objects.get(message=msg).status == OrderStatus.CANCELLED
    ended = posted[-1]
    assert ended["status"] == Status.EXPIRED and isinstance(ended["error"], codes.CodeExpired)
    assert cache.get(f"django_smsrest:code:{msg.order_id}") is None
    # Not even "send now" or a resend brings it back.
    assert services.send_message(msg.pk, force=True) is None
    with pytest.raises(services.SmsStateError):
        services.resend(msg)
    assert not sms_outbox


@override_settings(SMSREST={**SMSREST, "CONCURRENCY": 4})
def test_an_expired_code_is_never_posted_by_the_batched_flush(sms_outbox):
    locmem.fail_next("send", GatewayConnectionError("down"))
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    with no_task_worker:
        services.queue_sms("Bulk", ["+393471234568"])
    expire(msg)
    services.flush_queue()
    msg.refresh_from_db()
    assert msg.status == Status.EXPIRED
    assert [order.message for order in sms_outbox] == ["Bulk"]


def test_the_sweep_ends_a_code_whose_retry_comes_after_its_expiry(sms_outbox):
    locmem.fail_next("send", GatewayConnectionError("down"))
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    SmsMessage.objects.filter(pk=msg.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1),
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )
    services.sweep()
    msg.refresh_from_db()
    assert msg.status == Status.EXPIRED
    assert msg.finished_at is not None


def test_a_code_whose_clear_text_is_gone_is_not_posted_masked(sms_outbox):
    locmem.fail_next("send", GatewayConnectionError("down"))
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    cache.clear()  # a worker with its own cache, or an evicted entry
    SmsMessage.objects.filter(pk=msg.pk).update(next_attempt_at=None)
    services.flush_queue()
    msg.refresh_from_db()
    assert msg.status == Status.EXPIRED
    assert "not available to this worker" in msg.last_error
    assert not sms_outbox


def test_a_lookup_that_finds_an_expired_code_accepted_records_it(sms_outbox):
    # The POST went out but its answer was lost, and so was the look-up right after it.
    locmem.fail_next("send", GatewayTimeout("read timeout"), accept=True)
    locmem.fail_next("get_order", GatewayConnectionError("down"))
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    assert msg.status == Status.UNKNOWN
    expire(msg)
    assert services.reconcile(msg.pk, force=True).status == Status.SENT
    assert len(sms_outbox) == 1


def test_a_code_is_never_resent(sms_outbox):
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    with pytest.raises(services.SmsStateError) as exc:
        services.resend(msg)
    assert "never resent" in str(exc.value)
    assert SmsMessage.objects.count() == 1


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_queued_code_is_claimed_before_the_bulk_queue(sms_outbox, concurrency):
    with no_task_worker:
        for i in range(5):
            services.queue_sms(f"Bulk {i}", [f"+39347100000{i}"])
        services.send_code(TEXT, NUMBER, code=CODE, defer=True)
    with override_settings(SMSREST={**SMSREST, "CONCURRENCY": concurrency}):
        report = services.flush_queue()
    assert report.by_status == {Status.SENT: 6}
    assert sms_outbox[0].message == TEXT
    # The bulk messages after it (in any order: up to CONCURRENCY of them are in flight).
    assert sorted(order.message for order in sms_outbox[1:]) == [f"Bulk {i}" for i in range(5)]


def test_a_queued_codes_task_hint_has_the_highest_priority(
    sms_outbox, django_capture_on_commit_callbacks
):
    import importlib

    from django_smsrest.testing.tasks import TASKS_MODULE

    backends = importlib.import_module(TASKS_MODULE).task_backends
    with no_task_worker:
        with django_capture_on_commit_callbacks(execute=True):
            services.send_code(TEXT, NUMBER, code=CODE, defer=True)
            services.queue_sms("Bulk", [NUMBER])
        hints = [result.task.priority for result in backends["default"].results]
    assert hints == [100, 0]


def test_the_admin_never_shows_the_code(admin_client, sms_outbox):
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    pages = [
        admin_client.get("/admin/django_smsrest/smsmessage/"),
        admin_client.get(f"/admin/django_smsrest/smsmessage/{msg.pk}/change/"),
        admin_client.post(
            "/admin/django_smsrest/smsmessage/",
            {"action": "resend", "_selected_action": [msg.pk]},
        ),
    ]
    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert CODE not in body
    assert "••••••" in pages[1].content.decode()
    assert SmsMessage.objects.count() == 1  # nothing resent


def test_the_command_output_shows_the_masked_text(sms_outbox):
    locmem.fail_next("send", GatewayConnectionError("down"))
    msg = services.send_code(TEXT, NUMBER, code=CODE)
    SmsMessage.objects.filter(pk=msg.pk).update(next_attempt_at=None)
    out, err = io.StringIO(), io.StringIO()
    call_command("send_sms", "--flush", stdout=out, stderr=err)
    assert CODE not in out.getvalue() + err.getvalue()
    msg.refresh_from_db()
    assert msg.status == Status.SENT


def test_code_settings_are_checked_and_name_the_key():
    from django_smsrest.conf import build_settings
    from django_smsrest.exceptions import SmsRestConfigurationError

    assert build_settings({**SMSREST, "BRAND": "skebby"}).code_message_type == "GP"
    for key, bad in (("CODE_MESSAGE_TYPE", "XX"), ("CODE_VALID_SECONDS", 0)):
        with pytest.raises(SmsRestConfigurationError) as exc:
            build_settings({**SMSREST, key: bad})
        assert f"SMSREST['{key}']" in str(exc.value)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_code_that_becomes_due_during_a_flush_goes_before_the_rest(
    sms_outbox, monkeypatch, concurrency
):
    from django_smsrest.services import codes as code_services

    monkeypatch.setattr(code_services, "CODES_CHECK_SECONDS", 0)
    locmem.fail_next("send", GatewayConnectionError("down"))
    code_msg = services.send_code(TEXT, NUMBER, code=CODE)  # QUEUED, retry in the future
    with no_task_worker:
        for i in range(40):
            services.queue_sms(f"Bulk {i}", [f"+3934710{i:05d}"])

    def retry_time_comes(pk: int, msg: SmsMessage | None) -> None:
        if msg is not None and msg.message == "Bulk 1":
            SmsMessage.objects.filter(pk=code_msg.pk).update(next_attempt_at=None)

    with override_settings(SMSREST={**SMSREST, "CONCURRENCY": concurrency}):
        services.flush_queue(on_progress=retry_time_comes)
    texts = [order.message for order in sms_outbox]
    assert TEXT in texts
    # Within the next batch of bulk messages, not after the 40 of them.
    assert texts.index(TEXT) <= texts.index("Bulk 1") + 17


def test_the_sweep_hints_queued_codes_first_with_their_priority(
    sms_outbox, django_capture_on_commit_callbacks
):
    import importlib

    from django_smsrest.testing.tasks import TASKS_MODULE

    backends = importlib.import_module(TASKS_MODULE).task_backends
    with no_task_worker:
        services.queue_sms("Bulk", [NUMBER])
        locmem.fail_next("send", GatewayConnectionError("down"))
        code_msg = services.send_code(TEXT, NUMBER, code=CODE)
        SmsMessage.objects.filter(pk=code_msg.pk).update(next_attempt_at=None)
        backends["default"].clear()
        with django_capture_on_commit_callbacks(execute=True):
            services.sweep()
        hints = [(r.args[0], r.task.priority) for r in backends["default"].results]
    assert hints[0] == (code_msg.pk, 100)
