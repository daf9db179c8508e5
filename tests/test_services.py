"""The outbox state machine, driven through the locmem backend (with injected faults)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from django_smsrest import outbox as outbox_module
from django_smsrest import services, signals
from django_smsrest.backends import locmem
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import (
    AuthenticationError,
    GatewayConnectionError,
    GatewayRejected,
    GatewayServerError,
    GatewayTimeout,
    OrderNotFound,
    RateLimited,
    SendCancelled,
)
from django_smsrest.models import OrderStatus, SmsMessage, SmsOrder, SmsRecipient, Status
from django_smsrest.outbox import backoff as outbox_backoff
from django_smsrest.testing import outbox as outbox_helpers
from django_smsrest.testing.outbox import assert_sms_sent
from django_smsrest.testing.tasks import no_task_worker
from tests.settings import SMSREST

# The package's pytest fixture (an empty locmem outbox per test).
sms_outbox = outbox_helpers.sms_outbox

pytestmark = pytest.mark.django_db

A, B, C = "+393471234567", "+393471234568", "+393471234569"


def numbers(n: int) -> list[str]:
    """``n`` distinct valid Italian mobile numbers."""
    return [f"+39347{i:07d}" for i in range(1000000, 1000000 + n)]


def make_due(msg: SmsMessage) -> None:
    SmsMessage.objects.filter(pk=msg.pk).update(next_attempt_at=None)


@pytest.fixture
def receiver():
    """Connect a recording receiver to a signal; disconnected after the test."""
    connected: list[tuple[Any, Any]] = []

    def connect(signal: Any, func: Any = None) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []

        def record(sender: Any, **kwargs: Any) -> None:
            calls.append(kwargs)
            if func is not None:
                func(**kwargs)

        signal.connect(record, weak=False)
        connected.append((signal, record))
        return calls

    yield connect
    for signal, func in connected:
        signal.disconnect(func)


# --- sending ------------------------------------------------------------------------------


def test_send_sms_records_the_gateway_answer(sms_outbox: list) -> None:
    msg = services.send_sms("Hello", [A, "347 123 4568"])
    assert msg.status == Status.SENT
    assert msg.total_sent == 2
    assert msg.remaining_credits == locmem.DEFAULT_CREDITS - 2
    assert msg.internal_order_id == "LOCMEM-1"
    assert msg.sent_at is not None and msg.next_status_check_at is not None
    assert msg.attempts == 1 and msg.claim_token == "" and msg.lease_until is None
    [order] = sms_outbox
    assert order.order_id == msg.order_id  # the first order carries the message's id
    assert order.recipients == (A, B) and order.encoding == "gsm" and order.message_type == "N"
    assert SmsOrder.objects.get(message=msg).status == OrderStatus.ACCEPTED
    assert_sms_sent(to=B, text_contains="Hello", count=1)


def test_send_inside_an_atomic_block_waits_for_commit(
    sms_outbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        msg = services.send_sms("Hello", [A])
        assert msg.status == Status.QUEUED
        assert sms_outbox == []
    msg.refresh_from_db()
    assert msg.status == Status.SENT and len(sms_outbox) == 1


def test_a_second_send_of_the_same_message_is_a_no_op(
    sms_outbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    msg = services.queue_sms("Hello", [A])  # on_commit not run: still queued
    assert msg.status == Status.QUEUED and sms_outbox == []
    first = services.send_message(msg.pk)
    second = services.send_message(msg.pk)  # the compare-and-set claim finds nothing
    assert first is not None and first.status == Status.SENT
    assert second is None
    assert len(sms_outbox) == 1


def test_a_message_not_yet_due_is_not_claimed_unless_forced(sms_outbox: list) -> None:
    msg = services.queue_sms("Hello", [A])
    SmsMessage.objects.filter(pk=msg.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    assert services.send_message(msg.pk) is None
    assert sms_outbox == []
    sent = services.send_message(msg.pk, force=True)  # "send now" from the admin
    assert sent is not None and sent.status == Status.SENT and len(sms_outbox) == 1


@override_settings(SMSREST={**SMSREST, "MAX_RECIPIENTS_PER_ORDER": 1000})
def test_large_message_is_split_and_a_retry_sends_only_the_missing_orders(
    sms_outbox: list,
) -> None:
    msg = services.queue_sms("Big news", numbers(2500))
    orders = list(SmsOrder.objects.filter(message=msg).order_by("index"))
    assert [o.recipients.count() for o in orders] == [1000, 1000, 500]
    assert len({o.order_id for o in orders}) == 3 and orders[0].order_id == msg.order_id

    # Order 1 is accepted, then the connection fails before order 2: surely not sent.
    original_send = locmem.LocmemBackend.send
    calls = {"n": 0}

    def flaky(self: Any, order: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise GatewayConnectionError("connection refused")
        return original_send(self, order)

    locmem.LocmemBackend.send = flaky  # type: ignore[method-assign]
    try:
        msg = services.send_message(msg.pk)
    finally:
        locmem.LocmemBackend.send = original_send  # type: ignore[method-assign]
    assert msg is not None and msg.status == Status.QUEUED and msg.next_attempt_at is not None
    assert msg.total_sent == 1000
    assert [o.status for o in SmsOrder.objects.filter(message=msg).order_by("index")] == [
        OrderStatus.ACCEPTED,
        OrderStatus.PENDING,
        OrderStatus.PENDING,
    ]

    make_due(msg)
    msg = services.send_message(msg.pk)
    assert msg is not None and msg.status == Status.SENT
    posted = [o.order_id for o in sms_outbox]
    assert posted == [o.order_id for o in orders]  # 3 POSTs, each order exactly once
    assert msg.total_sent == 2500 and msg.order_id == orders[0].order_id


def test_maybe_sent_then_found_is_not_posted_again(sms_outbox: list) -> None:
    locmem.fail_next("send", GatewayTimeout("read timeout"), accept=True)
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.SENT
    assert len(sms_outbox) == 1 and locmem.calls("get_order") == 1
    assert msg.total_sent == 1


def test_maybe_sent_then_not_found_is_queued_for_a_retry(sms_outbox: list) -> None:
    locmem.fail_next("send", GatewayServerError("HTTP 502", status_code=502))
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.QUEUED and msg.next_attempt_at is not None
    assert sms_outbox == [] and locmem.calls("get_order") == 1
    make_due(msg)
    assert services.send_message(msg.pk).status == Status.SENT  # type: ignore[union-attr]
    assert len(sms_outbox) == 1


def test_maybe_sent_and_lookup_failing_stays_unknown_until_the_sweeper(sms_outbox: list) -> None:
    locmem.fail_next("send", GatewayTimeout("read timeout"), accept=True)
    locmem.fail_next("get_order", GatewayConnectionError("down"))
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.UNKNOWN and msg.claim_token == ""
    assert "could not be asked" in msg.last_error
    assert services.reconcile(msg.pk) is None  # not due yet: the sweeper waits
    report = services.sweep(now=timezone.now() + timedelta(days=1))
    assert report.reconciled == {Status.SENT: 1}
    msg.refresh_from_db()
    assert msg.status == Status.SENT and len(sms_outbox) == 1


def test_reconcile_can_be_forced_by_a_person(sms_outbox: list) -> None:
    locmem.fail_next("send", GatewayTimeout("read timeout"), accept=True)
    locmem.fail_next("get_order", GatewayConnectionError("down"))
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.UNKNOWN
    msg = services.reconcile(msg.pk, force=True)
    assert msg is not None and msg.status == Status.SENT and len(sms_outbox) == 1


def test_unexpected_exception_is_treated_as_maybe_sent(sms_outbox: list) -> None:
    locmem.fail_next("send", KeyError("total_sent"), accept=True)
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.SENT and len(sms_outbox) == 1


@pytest.mark.parametrize(
    ("exc", "needle"),
    [
        (GatewayRejected("HTTP 400", status_code=400, detail="Not enough credit"), "credit"),
        (AuthenticationError("Login refused: wrong username or password"), "Login refused"),
    ],
)
def test_permanent_errors_fail_at_once_with_the_reason(
    sms_outbox: list, exc: Exception, needle: str
) -> None:
    locmem.fail_next("send", exc)
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.FAILED and needle in msg.last_error
    assert msg.attempts == 1 and msg.finished_at is not None
    assert SmsOrder.objects.get(message=msg).status == OrderStatus.REJECTED


def test_last_error_never_contains_the_password(sms_outbox: list) -> None:
    password = get_settings().password.reveal()
    locmem.fail_next("send", GatewayRejected(f"HTTP 400: {password!r} refused, pwd={password}"))
    msg = services.send_sms("Hello", [A])
    assert password not in msg.last_error
    assert "'***' refused, pwd=***" in msg.last_error  # the client's one mask


def test_retryable_failures_back_off_then_fail_after_max_attempts(sms_outbox: list) -> None:
    with override_settings(SMSREST={**SMSREST, "MAX_ATTEMPTS": 3}):
        msg = services.queue_sms("Hello", [A])
        for attempt in (1, 2, 3):
            # A 500 the GET then shows was never accepted: it reached the gateway, it counts.
            locmem.fail_next("send", GatewayServerError("HTTP 500", status_code=500))
            make_due(msg)
            msg = services.send_message(msg.pk)  # type: ignore[assignment]
            assert msg.attempts == attempt
            expected = Status.QUEUED if attempt < 3 else Status.FAILED
            assert msg.status == expected, msg.last_error
    assert "Gave up after 3 attempts" in msg.last_error and msg.next_attempt_at is None
    assert sms_outbox == []


def test_an_unreachable_gateway_does_not_use_up_attempts_only_the_time_budget(
    sms_outbox: list,
) -> None:
    with override_settings(SMSREST={**SMSREST, "MAX_ATTEMPTS": 3, "SEND_MAX_AGE_HOURS": 1}):
        msg = services.queue_sms("Hello", [A])
        for _ in range(10):  # far more than MAX_ATTEMPTS connection failures
            locmem.fail_next("send", GatewayConnectionError("connection refused"))
            make_due(msg)
            msg = services.send_message(msg.pk)  # type: ignore[assignment]
            assert msg.status == Status.QUEUED and msg.attempts == 0
            assert "could not be reached" in msg.last_error
        # Past the time budget, the next failure to reach the gateway fails it.
        SmsMessage.objects.filter(pk=msg.pk).update(
            created_at=timezone.now() - timedelta(hours=1, minutes=1)
        )
        locmem.fail_next("send", GatewayConnectionError("connection refused"))
        make_due(msg)
        msg = services.send_message(msg.pk)  # type: ignore[assignment]
    assert msg.status == Status.FAILED
    assert "Not sent within 1 hours of being queued" in msg.last_error
    assert msg.attempts == 0 and sms_outbox == []


def test_rate_limit_waits_at_least_retry_after(sms_outbox: list) -> None:
    locmem.fail_next("send", RateLimited("HTTP 429", retry_after=600))
    before = timezone.now()
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.QUEUED
    assert msg.next_attempt_at >= before + timedelta(seconds=600)


def test_backoff_is_capped_exponential_with_full_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = get_settings()  # base 30 s, cap 3600 s
    monkeypatch.setattr(outbox_backoff._random, "uniform", lambda low, high: high)
    ceilings = [services.retry_delay(n, conf) for n in range(1, 10)]
    assert ceilings == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    monkeypatch.setattr(outbox_backoff._random, "uniform", lambda low, high: low)
    assert services.retry_delay(5, conf) == 0  # full jitter: anywhere from zero
    assert services.retry_delay(5, conf, retry_after=90) == 90
    assert services.retry_delay(5, conf, retry_after=10**9) == outbox_module.RETRY_AFTER_MAX
    monkeypatch.undo()
    assert all(0 <= services.retry_delay(3, conf) <= 120 for _ in range(200))


def test_expired_lease_goes_to_unknown_then_is_reconciled(sms_outbox: list) -> None:
    """A worker dies right after the gateway accepted the order."""
    msg = services.queue_sms("Hello", [A])
    original_send = locmem.LocmemBackend.send

    def crash(self: Any, order: Any) -> Any:
        original_send(self, order)
        raise SystemExit("worker killed")

    locmem.LocmemBackend.send = crash  # type: ignore[method-assign]
    try:
        with pytest.raises(SystemExit):
            services.send_message(msg.pk)
    finally:
        locmem.LocmemBackend.send = original_send  # type: ignore[method-assign]
    msg.refresh_from_db()
    assert msg.status == Status.SENDING

    assert services.sweep().expired_leases == 0  # the lease is still running
    later = timezone.now() + timedelta(seconds=get_settings().lease_seconds + 1)
    report = services.sweep(now=later)
    assert report.expired_leases == 1 and report.reconciled == {Status.SENT: 1}
    msg.refresh_from_db()
    assert msg.status == Status.SENT and len(sms_outbox) == 1  # no second POST


def test_expired_lease_never_accepted_is_requeued_not_resent_blindly(sms_outbox: list) -> None:
    msg = services.queue_sms("Hello", [A])
    SmsMessage.objects.filter(pk=msg.pk).update(
        status=Status.SENDING, lease_until=timezone.now() - timedelta(seconds=1), attempts=1
    )
    report = services.sweep()
    assert report.expired_leases == 1 and report.reconciled == {Status.QUEUED: 1}
    assert locmem.calls("get_order") == 1 and sms_outbox == []


def test_sweep_reenqueues_due_queued_messages_on_commit_for_a_worker(
    sms_outbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    msg = services.queue_sms("Hello", [A])  # its hint was "lost": on_commit never ran
    with no_task_worker, django_capture_on_commit_callbacks(execute=True) as callbacks:
        report = services.sweep()
    assert report.enqueued == 1 and len(callbacks) == 1
    assert report.sent == {}
    msg.refresh_from_db()
    assert msg.status == Status.QUEUED and sms_outbox == []  # the worker will send it


def test_sweep_without_a_worker_sends_the_due_queue_itself(sms_outbox: list) -> None:
    with no_task_worker:
        msg = services.queue_sms("Hello", [A])  # its hint was lost
    report = services.sweep()  # ImmediateBackend: no worker to hand it to
    assert report.enqueued == 0 and report.sent == {Status.SENT: 1}
    msg.refresh_from_db()
    assert msg.status == Status.SENT and len(sms_outbox) == 1


def test_sweep_gives_way_when_the_gateway_is_unreachable(
    sms_outbox: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    with no_task_worker:
        for _ in range(20):
            services.queue_sms("Hello", [A])

    def black_hole(self: Any, order: Any) -> Any:
        raise GatewayConnectionError("connection timed out")

    monkeypatch.setattr(locmem.LocmemBackend, "send", black_hole)
    report = services.sweep()
    assert report.stopped_early and report.sent == {Status.QUEUED: 3}
    assert SmsMessage.objects.filter(next_attempt_at=None).count() == 17  # not even tried
    assert set(SmsMessage.objects.values_list("attempts", flat=True)) == {0}


def test_two_sweeps_never_overlap(sms_outbox: list) -> None:
    with no_task_worker:
        msg = services.queue_sms("Hello", [A])
    token = outbox_module.take_lock("sweep", 60)  # another sweep is running
    assert token is not None
    assert services.sweep() == services.SweepReport(busy=True)
    assert SmsMessage.objects.get(pk=msg.pk).status == Status.QUEUED
    outbox_module.release_lock("sweep", token)
    assert services.sweep().sent == {Status.SENT: 1}
    # A sweep that died holding the lock holds it only until the lock expires.
    assert outbox_module.take_lock("sweep", 60) is not None
    later = timezone.now() + timedelta(seconds=61)
    assert outbox_module.take_lock("sweep", 60, now=later) is not None


# --- signals ------------------------------------------------------------------------------


def test_pre_send_veto_cancels_and_sends_nothing(sms_outbox: list, receiver: Any) -> None:
    def veto(message: SmsMessage, **kwargs: Any) -> None:
        raise SendCancelled("Recipient opted out")

    receiver(signals.pre_send, veto)
    msg = services.send_sms("Hello", [A])
    assert msg.status == Status.CANCELLED and msg.last_error == "Recipient opted out"
    assert sms_outbox == []
    assert SmsOrder.objects.get(message=msg).status == OrderStatus.CANCELLED


def test_pre_send_receiver_bug_requeues_and_raises(sms_outbox: list, receiver: Any) -> None:
    def broken(message: SmsMessage, **kwargs: Any) -> None:
        raise ZeroDivisionError

    receiver(signals.pre_send, broken)
    msg = services.queue_sms("Hello", [A])
    with pytest.raises(ZeroDivisionError):
        services.send_message(msg.pk)
    msg.refresh_from_db()
    assert msg.status == Status.QUEUED and sms_outbox == []


def test_post_send_and_low_credit(sms_outbox: list, receiver: Any) -> None:
    sent = receiver(signals.post_send)
    low = receiver(signals.low_credit)
    locmem.set_credits(101)
    with override_settings(SMSREST={**SMSREST, "LOW_CREDIT_THRESHOLD": 100}):
        msg = services.send_sms("Hello", [A])
        assert low == [{"signal": signals.low_credit, "message": msg,
                        "remaining_credits": 100, "threshold": 100}]  # fmt: skip
        services.send_sms("Hello", [B])
    assert len(low) == 2 and low[1]["remaining_credits"] == 99
    assert [c["message"].status for c in sent] == [Status.SENT, Status.SENT]
    assert sent[0]["result"].order_id == msg.order_id and sent[0]["error"] is None


def test_post_send_reports_failures(sms_outbox: list, receiver: Any) -> None:
    sent = receiver(signals.post_send)
    exc = GatewayRejected("HTTP 400", detail="bad sender")
    locmem.fail_next("send", exc)
    services.send_sms("Hello", [A])
    assert sent[0]["error"] is exc and sent[0]["message"].status == Status.FAILED


def test_a_failing_notification_receiver_does_not_break_sending(
    sms_outbox: list, receiver: Any
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    receiver(signals.post_send, broken)
    assert services.send_sms("Hello", [A]).status == Status.SENT


# --- delivery status ----------------------------------------------------------------------


def test_refresh_to_delivered(sms_outbox: list, receiver: Any) -> None:
    changes = receiver(signals.delivery_status_changed)
    msg = services.send_sms("Hello", [A, B])
    locmem.set_delivery_state("DLVRD")
    msg = services.refresh_status(msg)
    assert msg.status == Status.DELIVERED and msg.finished_at is not None
    assert msg.next_status_check_at is None
    assert set(msg.recipients.values_list("state", flat=True)) == {"DLVRD"}
    assert all(r.delivery_date for r in msg.recipients.all())
    [change] = changes
    assert change["previous_status"] == Status.SENT and len(change["recipients"]) == 2


def test_delivery_states_only_move_forward(sms_outbox: list, receiver: Any) -> None:
    changes = receiver(signals.delivery_status_changed)
    msg = services.send_sms("Hello", [A, B])
    locmem.set_delivery_state("DLVRD", to=A)
    locmem.set_delivery_state("WAIT4DLVR", to=B)
    msg = services.refresh_status(msg)
    assert msg.status == Status.SENT and msg.finished_at is None
    # A late WAITING for A (already delivered) is ignored; B moves on.
    locmem.set_delivery_state("WAITING", to=A)
    locmem.set_delivery_state("DLVRD", to=B)
    msg = services.refresh_status(msg)
    states = dict(msg.recipients.values_list("phone_number", "state"))
    assert states == {A: "DLVRD", B: "DLVRD"} and msg.status == Status.DELIVERED
    assert [len(c["recipients"]) for c in changes] == [2, 1]
    # A finished message is never reopened.
    locmem.set_delivery_state("WAITING")
    assert services.refresh_status(msg).status == Status.DELIVERED
    assert len(changes) == 2


def test_repeated_identical_answer_changes_nothing(sms_outbox: list, receiver: Any) -> None:
    changes = receiver(signals.delivery_status_changed)
    msg = services.send_sms("Hello", [A])
    locmem.set_delivery_state("WAIT4DLVR")
    services.refresh_status(msg)
    services.refresh_status(msg)
    assert len(changes) == 1


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ({A: "DLVRD", B: "UNKNRCPT"}, Status.PARTIALLY_DELIVERED),
        ({A: "BLACKLISTED", B: "ERROR"}, Status.UNDELIVERED),
        ({A: "DLVRD", B: "DLVRD"}, Status.DELIVERED),
    ],
)
def test_summary_status(sms_outbox: list, states: dict[str, str], expected: str) -> None:
    msg = services.send_sms("Hello", [A, B])
    for number, state in states.items():
        locmem.set_delivery_state(state, to=number)
    msg = services.refresh_status(msg)
    assert msg.status == expected and msg.finished_at is not None


def test_types_without_delivery_report_finish_at_sent(sms_outbox: list) -> None:
    msg = services.send_sms("Hello", [A], message_type="L")
    msg = services.refresh_status(msg)
    assert msg.status == Status.SENT and msg.finished_at is not None
    assert msg.next_status_check_at is None


def test_status_checks_back_off_and_stop_after_max_age(sms_outbox: list) -> None:
    conf = get_settings()
    msg = services.send_sms("Hello", [A])
    gaps = []
    for _ in range(3):
        before = timezone.now()
        msg = services.refresh_status(msg)
        gaps.append((msg.next_status_check_at - before).total_seconds())
    base = conf.status_poll_base_seconds
    assert [round(g / base) for g in gaps] == [2, 4, 8]
    SmsMessage.objects.filter(pk=msg.pk).update(
        sent_at=timezone.now() - timedelta(hours=conf.status_poll_max_age_hours + 1)
    )
    msg = services.refresh_status(msg)
    assert msg.next_status_check_at is None and "Stopped checking" in msg.last_error
    assert msg.status == Status.SENT


def test_refresh_due_statuses_only_due_ones(sms_outbox: list) -> None:
    due = services.send_sms("Hello", [A])
    later = services.send_sms("Hello", [B])
    SmsMessage.objects.filter(pk=due.pk).update(next_status_check_at=timezone.now())
    locmem.set_delivery_state("DLVRD")
    assert services.refresh_due_statuses() == 1
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == Status.DELIVERED and later.status == Status.SENT


# --- scheduling, cancelling, resending ----------------------------------------------------


def test_schedule_then_cancel(sms_outbox: list) -> None:
    when = timezone.now() + timedelta(days=1)
    msg = services.send_sms("Tomorrow", [A], scheduled_delivery_time=when)
    assert msg.status == Status.SCHEDULED
    assert msg.next_status_check_at > when
    assert sms_outbox[0].scheduled_delivery_time == when
    msg = services.cancel(msg, reason="Event postponed")
    assert msg.status == Status.CANCELLED and msg.last_error == "Event postponed"
    assert locmem.calls("cancel") == 1
    assert SmsOrder.objects.get(message=msg).status == OrderStatus.CANCELLED


def test_scheduled_moves_to_sent_when_the_gateway_starts(sms_outbox: list) -> None:
    when = timezone.now() + timedelta(days=1)
    msg = services.send_sms("Tomorrow", [A], scheduled_delivery_time=when)
    assert services.refresh_status(msg).status == Status.SCHEDULED
    locmem.set_delivery_state("SENT")
    assert services.refresh_status(msg).status == Status.SENT


def test_cancel_too_late_explains(sms_outbox: list) -> None:
    msg = services.send_sms("Tomorrow", [A], scheduled_delivery_time=timezone.now() + timedelta(1))
    locmem.fail_next("cancel", OrderNotFound("not scheduled", status_code=404))
    with pytest.raises(services.SmsStateError, match="probably started sending"):
        services.cancel(msg)
    msg.refresh_from_db()
    assert msg.status == Status.SCHEDULED and msg.claim_token == ""


def test_cancel_queued_locally(sms_outbox: list) -> None:
    msg = services.queue_sms("Hello", [A])
    msg = services.cancel(msg)
    assert msg.status == Status.CANCELLED
    assert services.send_message(msg.pk) is None and sms_outbox == []


def test_cancel_sent_is_refused_with_a_clear_message(sms_outbox: list) -> None:
    msg = services.send_sms("Hello", [A])
    with pytest.raises(services.SmsStateError, match="already been sent"):
        services.cancel(msg)


def test_resend_creates_a_new_linked_message_with_new_order_ids(sms_outbox: list) -> None:
    locmem.fail_next("send", GatewayRejected("HTTP 400", detail="no credit"))
    failed = services.send_sms("Hello", [A, B])
    assert failed.status == Status.FAILED
    again = services.resend(failed, defer=False)
    assert again.pk != failed.pk and again.resend_of == failed
    assert again.order_id != failed.order_id and again.status == Status.SENT
    assert [o.order_id for o in sms_outbox] == [again.order_id]
    assert list(again.recipients.values_list("phone_number", flat=True)) == [A, B]


def test_resend_in_flight_is_refused(sms_outbox: list) -> None:
    msg = services.queue_sms("Hello", [A])
    with pytest.raises(services.SmsStateError, match="cannot be resent"):
        services.resend(msg)


def test_partial_rejection_keeps_the_accepted_part_tracked(sms_outbox: list) -> None:
    with override_settings(SMSREST={**SMSREST, "MAX_RECIPIENTS_PER_ORDER": 1}):
        original_send = locmem.LocmemBackend.send
        calls = {"n": 0}

        def second_rejected(self: Any, order: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 2:
                raise GatewayRejected("HTTP 400", detail="Not enough credit")
            return original_send(self, order)

        locmem.LocmemBackend.send = second_rejected  # type: ignore[method-assign]
        try:
            msg = services.send_sms("Hello", [A, B, C])
        finally:
            locmem.LocmemBackend.send = original_send  # type: ignore[method-assign]
        assert msg.status == Status.SENT and "credit" in msg.last_error
        assert calls["n"] == 2  # order 3 was not tried after a permanent refusal
        assert list(
            SmsOrder.objects.filter(message=msg).order_by("index").values_list("status", flat=True)
        ) == [OrderStatus.ACCEPTED, OrderStatus.REJECTED, OrderStatus.REJECTED]
        locmem.set_delivery_state("DLVRD")
        msg = services.refresh_status(msg)
    assert msg.status == Status.PARTIALLY_DELIVERED
    assert dict(msg.recipients.values_list("phone_number", "state")) == {
        A: "DLVRD",
        B: "ERROR",
        C: "ERROR",
    }


def test_get_credits(sms_outbox: list) -> None:
    locmem.set_credits(42)
    assert services.get_credits().credits["N"] == 42


# --- the queue ----------------------------------------------------------------------------


def test_flush_queue_sends_due_messages_and_reports(sms_outbox: list) -> None:
    ok = [services.queue_sms("Hello", [A]) for _ in range(3)]
    later = services.queue_sms("Later", [B])
    SmsMessage.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    seen: list[int] = []
    report = services.flush_queue(on_progress=lambda pk, msg: seen.append(pk))
    assert report.by_status == {Status.SENT: 3} and report.attempted == 3
    # Each message reported once, as its result landed (not necessarily in queue order).
    assert sorted(seen) == [m.pk for m in ok] and len(sms_outbox) == 3


def test_flush_queue_limit(sms_outbox: list) -> None:
    for _ in range(4):
        services.queue_sms("Hello", [A])
    assert services.flush_queue(limit=3).attempted == 3
    assert SmsMessage.objects.filter(status=Status.QUEUED).count() == 1


def test_flush_walks_the_queue_in_chunks(
    sms_outbox: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("django_smsrest.services.base.CHUNK_SIZE", 2)
    for _ in range(5):
        services.queue_sms("Hello", [A])
    assert services.flush_queue().by_status == {Status.SENT: 5}


# --- query budgets ------------------------------------------------------------------------


def _flush_queries(n: int, django_assert_max_num_queries: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(n):
        services.queue_sms("Hello", [A, B])
    with CaptureQueriesContext(connection) as ctx:
        report = services.flush_queue()
    assert report.by_status == {Status.SENT: n}
    return len(ctx.captured_queries)


# CONCURRENCY 1: the one engine with one request in flight (a claim and a result write per
# few messages, not per message); more in flight: tests/test_batch_flush.py.
@override_settings(SMSREST={**SMSREST, "CONCURRENCY": 1})
def test_queries_per_message_do_not_grow_with_the_queue(
    sms_outbox: list, django_assert_max_num_queries: Any
) -> None:
    q5 = _flush_queries(5, django_assert_max_num_queries)
    SmsMessage.objects.all().delete()
    q50 = _flush_queries(50, django_assert_max_num_queries)
    per_message = (q50 - q5) / 45
    # Per claim of 4 (CLAIM_PER_REQUEST): the claim, messages+orders, recipients, the
    # two result UPDATEs and the savepoints around them (and, on PostgreSQL, around the
    # claim); once sent one at a time, 5 each.
    assert per_message <= 2.5, per_message
    # Fixed costs: the login codes' look before a claim, the empty last claim, and result
    # writes that land within WRITE_WITHIN of each answer (one more on a slow machine).
    assert q5 <= 30, q5


@pytest.mark.parametrize("size", [1, 900])
def test_queries_per_send_do_not_grow_with_recipients(
    sms_outbox: list, django_assert_num_queries: Any, size: int
) -> None:
    msg = services.queue_sms("Hello", numbers(size))
    with django_assert_num_queries(5):  # claim, message+orders, recipients, order, finish
        services.send_message(msg.pk)


@pytest.mark.parametrize("size", [1, 900])
def test_queries_per_refresh_do_not_grow_with_recipients(sms_outbox: list, size: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    msg = services.send_sms("Hello", numbers(size))
    locmem.set_delivery_state("DLVRD")
    with CaptureQueriesContext(connection) as ctx:
        services.refresh_status(msg.pk)
    bulk = [q for q in ctx.captured_queries if 'UPDATE "django_smsrest_smsrecipient"' in q["sql"]]
    # claim, load, orders, recipients of the order, state counts, final update; plus the
    # bulk UPDATE of the changed recipients, which Django batches by itself.
    assert len(ctx.captured_queries) - len(bulk) == 6
    assert 1 <= len(bulk) <= -(-size // 100)
    assert SmsRecipient.objects.filter(message=msg, state="DLVRD").count() == size


def test_a_killed_sweep_blocks_the_next_ones_for_one_lease_only(
    sms_outbox: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_smsrest.models import OutboxLock
    from django_smsrest.services import queue

    monkeypatch.setattr(queue._SweepLock, "release", lambda self: None)  # killed: never released
    before = timezone.now()
    services.sweep()
    held = OutboxLock.objects.get(name="sweep").held_until
    lease = get_settings().lease_seconds
    assert held <= before + timedelta(seconds=lease + 5)  # not 10 minutes
    assert services.sweep().busy  # held...
    OutboxLock.objects.filter(name="sweep").update(held_until=before)  # ...until it expires
    assert not services.sweep().busy


def test_a_long_sweep_keeps_its_lock(monkeypatch: pytest.MonkeyPatch, db: Any) -> None:
    from django_smsrest.models import OutboxLock
    from django_smsrest.services import queue

    clock = [1000.0]
    monkeypatch.setattr(queue.time, "monotonic", lambda: clock[0])
    lock = queue._SweepLock(10)
    first = OutboxLock.objects.get(name="sweep").held_until
    clock[0] += 4
    lock.keep()  # less than half the lease: nothing to do
    assert OutboxLock.objects.get(name="sweep").held_until == first
    clock[0] += 2
    lock.keep()  # past half: renewed from now
    assert OutboxLock.objects.get(name="sweep").held_until > first
    lock.release()
    assert OutboxLock.objects.get(name="sweep").token == ""
