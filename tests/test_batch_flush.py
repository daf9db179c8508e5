"""The concurrent flush (``SMSREST['CONCURRENCY']`` > 1, django_smsrest.outbox.batch):
batched claims and result writes (queries counted), the same outcomes as the sequential
path, one brake for every request in flight, leases held before each POST."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_smsrest import services, signals, throttle
from django_smsrest.backends import locmem
from django_smsrest.backends.base import OutgoingOrder
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import (
    AuthenticationError,
    GatewayConnectionError,
    GatewayTimeout,
    RateLimited,
)
from django_smsrest.models import OrderStatus, SmsMessage, SmsOrder, Status
from django_smsrest.outbox import claim_batch
from django_smsrest.outbox.batch_rows import load_batch, write_accepted
from django_smsrest.results import SendResult
from django_smsrest.testing import outbox as outbox_helpers
from tests.settings import SMSREST

sms_outbox = outbox_helpers.sms_outbox

pytestmark = pytest.mark.django_db

A = "+393471234567"


def concurrency(k: int, **more: Any) -> override_settings:
    return override_settings(SMSREST={**SMSREST, "CONCURRENCY": k, **more})


def queued(n: int, numbers: list[str] | None = None) -> list[int]:
    return [services.queue_sms(f"n{i}", numbers or [A]).pk for i in range(n)]


class Scripted(locmem.LocmemBackend):
    """locmem, slowed down a little (so requests really overlap) and scripted: call
    number N (1-based, in the order the POSTs start) raises ``script[N]``. Records how
    many POSTs were in flight at most. A scripted failure answers at once, an acceptance
    after ``delay`` (so a refusal lands before the requests started with it)."""

    script: dict[int, BaseException] = {}
    delay = 0.01
    lock = threading.Lock()
    started = 0
    in_flight = 0
    peak = 0

    @classmethod
    def reset(cls, script: dict[int, BaseException] | None = None, delay: float = 0.05) -> None:
        cls.script, cls.delay = dict(script or {}), delay
        cls.started = cls.in_flight = cls.peak = 0

    def send(self, order: OutgoingOrder) -> SendResult:
        cls = type(self)
        with cls.lock:
            cls.started += 1
            number = cls.started
            cls.in_flight += 1
            cls.peak = max(cls.peak, cls.in_flight)
        try:
            fault = cls.script.get(number)
            if fault is not None:
                raise fault  # a refusal comes back at once; the others take a while
            time.sleep(cls.delay)
            return super().send(order)
        finally:
            with cls.lock:
                cls.in_flight -= 1


SCRIPTED = "tests.test_batch_flush.Scripted"


@pytest.fixture(autouse=True)
def _scripted() -> Any:
    Scripted.reset()
    throttle.clear_pause()
    yield
    Scripted.reset()
    throttle.clear_pause()


# --- queries ------------------------------------------------------------------------------


def _claim_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``size`` of every claim the flush asks for, in order."""
    from django_smsrest.outbox import batch

    sizes: list[int] = []
    real = batch.claim_batch

    def recording(*args: Any, **kwargs: Any) -> int:
        sizes.append(kwargs["size"])
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "claim_batch", recording)
    return sizes


def test_claims_grow_to_a_tenth_of_a_second_of_sending_against_a_fast_gateway(
    sms_outbox: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim costs a few statements whatever its size: against an instant gateway the
    flush claims what it sends in CLAIM_SECONDS (up to BATCH) instead of 4 per request
    in flight (main: 75 claims of 4 for 300 messages)."""
    from django_smsrest.outbox import batch

    sizes = _claim_sizes(monkeypatch)
    queued(300)
    with concurrency(1):
        report = services.flush_queue()
    assert report.by_status == {Status.SENT: 300}
    assert sizes[0] == batch.CLAIM_PER_REQUEST  # the first: nothing has landed yet
    assert max(sizes) <= batch.BATCH
    assert len(sizes) <= 20, sizes  # more than 15 messages a claim on average
    assert sorted(Counter(o.order_id for o in sms_outbox).values()) == [1] * 300


def test_claims_stay_small_against_a_slow_gateway(
    sms_outbox: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 ms a POST, 2 in flight: 40 a second, 4 in a tenth of a second: every claim
    stays at CLAIM_PER_REQUEST x CONCURRENCY (what a killed worker leaves to reconcile)."""
    from django_smsrest.outbox import batch

    sizes = _claim_sizes(monkeypatch)
    queued(30)
    with concurrency(2, BACKEND=SCRIPTED):
        report = services.flush_queue()
    assert report.by_status == {Status.SENT: 30}
    assert set(sizes) == {batch.CLAIM_PER_REQUEST * 2}


@pytest.mark.parametrize("n", [100, 250])
def test_queries_per_message_at_most_1_5_amortised(sms_outbox: list, n: int) -> None:
    queued(n)
    with concurrency(8), CaptureQueriesContext(connection) as ctx:
        report = services.flush_queue()
    assert report.by_status == {Status.SENT: n}
    queries = len(ctx.captured_queries)
    # Per claim (4 x CONCURRENCY = 32 messages): the claim, orders+messages, recipients,
    # the two result UPDATEs (and the transaction around them); plus one final empty
    # claim. Not per message.
    assert queries <= 1.5 * n, queries
    statements = [
        q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]  # savepoints: the test's own transaction around ours
    # (+1 per claim: the query for login codes to send first, services.codes.send_due_codes)
    assert len(statements) <= 7 * (-(-n // 32)) + 3, [sql[:80] for sql in statements]
    print(f"{n} messages: {queries} queries, {len(statements)} statements")
    # Exactly once: one POST per order, every order accepted.
    assert sorted(Counter(o.order_id for o in sms_outbox).values()) == [1] * n
    assert not SmsOrder.objects.exclude(status=OrderStatus.ACCEPTED).exists()
    # The per-row values (one CASE per column) landed on the right rows.
    for order in SmsOrder.objects.select_related("message"):
        msg = order.message
        assert order.internal_order_id and msg.internal_order_id == order.internal_order_id
        assert msg.remaining_credits == order.remaining_credits is not None
        assert msg.total_sent == order.total_sent == 1 and order.accepted_at is not None
    assert len(set(SmsMessage.objects.values_list("remaining_credits", flat=True))) == n


def test_the_batch_path_writes_what_the_sequential_path_writes(sms_outbox: list) -> None:
    fields = (
        "status",
        "total_sent",
        "claim_token",
        "lease_until",
        "next_attempt_at",
        "status_checks",
        "last_error",
        "attempts",
    )
    later = timezone.now() + timedelta(days=1)
    rows = []
    for k in (1, 4):
        now_pk = services.queue_sms("now", [A]).pk
        sched_pk = services.queue_sms("later", [A], scheduled_delivery_time=later).pk
        with concurrency(k):
            services.flush_queue()
        got = SmsMessage.objects.filter(pk__in=[now_pk, sched_pk]).order_by("pk")
        rows.append([tuple(getattr(m, f) for f in fields) for m in got])
        for m in got:
            assert m.sent_at is not None and m.next_status_check_at is not None
        scheduled = got.get(pk=sched_pk)
        assert scheduled.next_status_check_at >= later
    assert rows[0] == rows[1]
    assert rows[1][0][0] == Status.SENT and rows[1][1][0] == Status.SCHEDULED


def test_messages_with_several_orders_go_the_sequential_way(sms_outbox: list) -> None:
    with concurrency(4, MAX_RECIPIENTS_PER_ORDER=1):
        multi = services.queue_sms("multi", [A, "+393471234568", "+393471234569"]).pk
        singles = queued(5)
        report = services.flush_queue()
    assert report.by_status == {Status.SENT: 6}
    assert SmsOrder.objects.filter(message_id=multi, status=OrderStatus.ACCEPTED).count() == 3
    assert SmsMessage.objects.get(pk=multi).total_sent == 3
    assert SmsMessage.objects.filter(pk__in=singles, status=Status.SENT).count() == 5
    assert len(sms_outbox) == 8


def test_requests_really_overlap_and_never_exceed_concurrency(sms_outbox: list) -> None:
    queued(40)
    with concurrency(4, BACKEND=SCRIPTED):
        report = services.flush_queue()
    assert report.by_status == {Status.SENT: 40}
    assert Scripted.peak == 4


def test_progress_is_reported_once_per_message(sms_outbox: list) -> None:
    pks = queued(12)
    seen: list[int] = []
    with concurrency(4, BACKEND=SCRIPTED):
        services.flush_queue(on_progress=lambda pk, msg: seen.append(pk))
    # Each once; in the order the results landed and were written (as they land, not a
    # batch later), which need not be the queue's.
    assert sorted(seen) == pks


def test_limit_is_honoured(sms_outbox: list) -> None:
    pks = queued(10)
    with concurrency(4):
        report = services.flush_queue(limit=3)
    assert report.by_status == {Status.SENT: 3}
    assert SmsMessage.objects.filter(pk__in=pks[3:], status=Status.QUEUED, attempts=0).count() == 7


# --- the brake ----------------------------------------------------------------------------


def test_a_429_stops_every_new_post_and_the_pause_is_set_once(sms_outbox: list) -> None:
    pks = queued(30)
    # Call 1 goes alone (slow start); then 4 in flight: calls 2-5. Calls 3 and 4 get 429.
    Scripted.reset({3: RateLimited("HTTP 429", retry_after=60), 4: RateLimited("HTTP 429")})
    with concurrency(4, BACKEND=SCRIPTED):
        report = services.flush_queue()
    assert report.stopped_early
    assert Scripted.started == 5  # nothing submitted after the first 429
    assert report.by_status == {Status.SENT: 3, Status.QUEUED: 2}
    limited = SmsMessage.objects.filter(pk__in=pks[:5], status=Status.QUEUED)
    assert limited.count() == 2 and set(limited.values_list("attempts", flat=True)) == {1}
    until = throttle.sending_paused_until()
    assert until is not None and report.paused_until == until
    assert until >= timezone.now() + timedelta(seconds=55)  # Retry-After: 60 honoured
    # Claimed but never posted: back in the queue untouched (no attempt counted).
    untouched = SmsMessage.objects.filter(
        pk__in=pks[5:], status=Status.QUEUED, attempts=0, next_attempt_at=None, claim_token=""
    )
    assert untouched.count() == 25


def test_a_refused_login_stops_the_batch(sms_outbox: list) -> None:
    pks = queued(10)
    Scripted.reset({1: AuthenticationError("login refused", status_code=401)})
    with concurrency(4, BACKEND=SCRIPTED):
        report = services.flush_queue()
    assert report.stopped_early and Scripted.started == 1
    assert report.by_status == {Status.FAILED: 1}
    assert SmsMessage.objects.filter(pk__in=pks[1:], status=Status.QUEUED, attempts=0).count() == 9


def test_an_unreachable_gateway_drains_then_probes_with_one_request(sms_outbox: list) -> None:
    queued(20)
    refused = GatewayConnectionError("connection refused")
    # Window opens after call 1; call 3 is refused: nothing new starts until calls 2-5
    # have landed, then one probe (call 6) alone, which succeeds and opens the window.
    Scripted.reset({3: refused})
    with concurrency(4, BACKEND=SCRIPTED):
        report = services.flush_queue()
    assert not report.stopped_early
    assert report.by_status == {Status.SENT: 19, Status.QUEUED: 1}
    # Three refusals in a row: the flush gives way, the rest untouched.
    more = queued(10)
    Scripted.reset({1: refused, 2: refused, 3: refused})
    with concurrency(4, BACKEND=SCRIPTED):
        report = services.flush_queue()
    assert report.stopped_early and Scripted.started == 3 and Scripted.peak == 1
    assert report.by_status == {Status.QUEUED: 3}
    assert SmsMessage.objects.filter(pk__in=more, attempts=0, status=Status.QUEUED).count() == 10


def test_a_maybe_sent_answer_is_reconciled_not_resent(sms_outbox: list) -> None:
    pks = queued(6)
    locmem.fail_next("send", GatewayTimeout("read timeout"), accept=True)
    with concurrency(4):
        report = services.flush_queue()
    assert report.by_status == {Status.SENT: 6}
    assert locmem.calls("get_order") == 1
    assert sorted(Counter(o.order_id for o in sms_outbox).values()) == [1] * 6
    assert SmsMessage.objects.filter(pk__in=pks, status=Status.SENT).count() == 6


# --- claims and leases --------------------------------------------------------------------


def test_a_flush_that_stalled_past_its_lease_posts_nothing_taken_over(sms_outbox: list) -> None:
    pks = queued(3)
    stalls: list[int] = []

    def stall(sender: Any, message: SmsMessage, **kwargs: Any) -> None:
        if not stalls:
            stalls.append(message.pk)
            time.sleep(1.2)  # past the 1 s lease; meanwhile another worker takes over
            SmsMessage.objects.filter(pk__in=pks).update(claim_token="b" * 32)

    signals.pre_send.connect(stall)
    try:
        with concurrency(4, LEASE_SECONDS=1.0, TIMEOUT=[0.05, 0.05]):
            report = services.flush_queue()
    finally:
        signals.pre_send.disconnect(stall)
    assert locmem.calls("send") == 0
    assert report.skipped == 3 and not report.by_status


def test_a_claim_lost_before_the_result_write_leaves_the_row_to_its_new_owner() -> None:
    conf = get_settings()
    pks = queued(3)
    assert claim_batch("t" * 32, timezone.now(), conf, after=0, size=10) == 3
    posts, last = load_batch("t" * 32, 0, 3, conf)
    assert last == pks[-1] and [p.pk for p in posts] == pks  # type: ignore[union-attr]
    SmsMessage.objects.filter(pk=pks[1]).update(claim_token="b" * 32)
    results = [
        (post, SendResult(order_id=post.order.order_id, total_sent=1))  # type: ignore[union-attr]
        for post in posts
    ]
    lost = write_accepted("t" * 32, results, conf)  # type: ignore[arg-type]
    assert lost == {pks[1]}
    # The accepted order is recorded whoever holds the claim; the message row is not ours.
    assert not SmsOrder.objects.exclude(status=OrderStatus.ACCEPTED).exists()
    taken = SmsMessage.objects.get(pk=pks[1])
    assert taken.status == Status.SENDING and taken.claim_token == "b" * 32
    assert SmsMessage.objects.filter(pk__in=[pks[0], pks[2]], status=Status.SENT).count() == 2


def test_claim_batch_takes_only_due_queued_rows_above_the_cursor() -> None:
    conf = get_settings()
    pks = queued(6)
    SmsMessage.objects.filter(pk=pks[1]).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    SmsMessage.objects.filter(pk=pks[2]).update(status=Status.SENDING)
    assert claim_batch("x" * 32, timezone.now(), conf, after=pks[0], size=2) == 2
    claimed = SmsMessage.objects.filter(claim_token="x" * 32)
    assert sorted(claimed.values_list("pk", flat=True)) == [pks[3], pks[4]]
    assert set(claimed.values_list("status", "attempts")) == {(Status.SENDING, 1)}


@pytest.mark.parametrize("value", [0, -1, 2.5, "4", True])
def test_concurrency_must_be_a_whole_number_at_least_1(value: object) -> None:
    from django_smsrest.conf import build_settings, settings_problems

    assert [p.key for p in settings_problems({**SMSREST, "CONCURRENCY": value})] == ["CONCURRENCY"]
    assert build_settings(SMSREST).concurrency == 4
    assert build_settings({**SMSREST, "CONCURRENCY": 16}).concurrency == 16


def test_a_database_error_mid_flush_loses_nothing_and_sends_nothing_twice(
    sms_outbox: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first result write fails (the database went away for a moment): the flush
    raises, but its wind-down writes the POSTs already out again (one transaction: the
    failed write wrote nothing) and gives back what it had not POSTed. Nothing is left
    SENDING for the sweeper, nothing is POSTed twice. (Had the second write failed too,
    the rows would stay SENDING under their lease and the sweeper would settle them with
    GET sms/{order_id}: see test_worker_loop_postgres.py.)"""
    from django.db import OperationalError

    from django_smsrest.outbox import batch

    queued(150)
    real_write = batch.write_accepted
    calls: list[int] = []

    def failing_once(*args: Any, **kwargs: Any) -> set[int]:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(batch, "write_accepted", failing_once)
    with concurrency(4), pytest.raises(OperationalError):
        services.flush_queue()
    monkeypatch.undo()
    posted = locmem.calls("send")
    assert 0 < posted <= batch.CLAIM_PER_REQUEST * 4  # within the first claim
    # POSTed: all written by the wind-down (the failed batch again, then those in flight).
    assert not SmsMessage.objects.filter(status=Status.SENDING).exists()
    assert SmsMessage.objects.filter(status=Status.SENT).count() == posted
    # Not POSTed: back in the queue (or never claimed), no attempt counted.
    assert SmsMessage.objects.filter(status=Status.QUEUED, attempts=0).count() == 150 - posted

    # Later: the sweep has nothing to reconcile and sends the rest.
    with concurrency(4):
        report = services.sweep()
    assert report.expired_leases == 0 and not report.reconciled
    assert SmsMessage.objects.filter(status=Status.SENT).count() == 150
    assert locmem.calls("get_order") == 0
    assert locmem.calls("send") == 150  # one POST per order, whatever happened
    assert sorted(Counter(o.order_id for o in sms_outbox).values()) == [1] * 150


def test_personalised_and_group_messages_take_the_batch_path_with_their_data(
    sms_outbox: list,
) -> None:
    """paramsms values and contact groups reach the gateway exactly as on the sequential
    path (ClaimedMessage.outgoing() builds every order; the batch only loads the rows)."""
    ada, bob = A, "+393471234568"
    rows = [
        {"recipient": ada, "name": "Ada", "time": "10:00"},
        {"recipient": bob, "name": "Bob", "time": "11:30"},
    ]
    locmem.set_groups({"clienti": [ada, bob]})
    personalised = services.queue_sms("Ciao ${name}, alle ${time}", rows).pk
    plain = services.queue_sms("plain", [ada]).pk
    group = services.queue_sms("Chiuso lunedì", groups=["clienti"]).pk
    with concurrency(4):
        report = services.flush_queue()
    assert report.by_status == {Status.SENT: 3}
    by_text = {order.message: order for order in sms_outbox}
    sent = by_text["Ciao ${name}, alle ${time}"]
    assert sent.recipients == (ada, bob)
    assert [dict(p) for p in sent.params] == [
        {"name": "Ada", "time": "10:00"},
        {"name": "Bob", "time": "11:30"},
    ]
    assert by_text["plain"].params == () and by_text["plain"].groups == ()
    assert by_text["Chiuso lunedì"].groups == ("clienti",)
    assert by_text["Chiuso lunedì"].recipients == ()
    totals = dict(
        SmsMessage.objects.filter(pk__in=[personalised, plain, group]).values_list(
            "pk", "total_sent"
        )
    )
    assert totals == {personalised: 2, plain: 1, group: 2}
