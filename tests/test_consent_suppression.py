"""Issue 23 item 2: the suppression list. A marketing message skips suppressed recipients
(kept on the row as SUPPRESSED, not posted, not charged), ends CANCELLED without a POST
when nobody is left, and is checked again at send time; transactional messages still go.
Both send paths (one message, the batched flush) go through the same gate."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

import django_smsrest
from django_smsrest import services, signals
from django_smsrest.backends import locmem
from django_smsrest.models import OrderStatus, SmsMessage, SmsOrder, Status, Suppression
from django_smsrest.testing.tasks import no_task_worker
from tests.settings import SMSREST

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_gateway")]

A, B, C = "+393471234567", "+393471234568", "+393471234569"
SUPPRESSED = "SUPPRESSED"


def states(msg: SmsMessage) -> dict[str, str]:
    return dict(msg.recipients.values_list("phone_number", "state"))


@pytest.fixture
def opted_out() -> Any:
    calls: list[dict[str, Any]] = []

    def record(sender: Any, signal: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    signals.opted_out.connect(record, weak=False)
    yield calls
    signals.opted_out.disconnect(record)


# --- the list -----------------------------------------------------------------------------


def test_suppress_is_exported_normalises_and_is_idempotent(
    opted_out: list, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        row = django_smsrest.suppress("+39 347 123 4567", reason="asked by phone")
        again = django_smsrest.suppress(A, reason="second time")
    assert row.pk == again.pk and again.reason == "asked by phone"
    assert row.phone_number == A and row.origin == "LOCAL"
    assert opted_out == [{"number": A, "origin": "LOCAL", "reason": "asked by phone"}]
    assert services.is_suppressed("347 123 4567") is True  # DEFAULT_REGION = "IT"
    assert services.is_suppressed(A) is True
    assert django_smsrest.unsuppress(A) is True
    assert django_smsrest.unsuppress(A) is False
    assert Suppression.objects.count() == 0


def test_suppress_refuses_a_bad_number_clearly() -> None:
    with pytest.raises(ValidationError, match="not a phone number"):
        django_smsrest.suppress("hello")
    assert Suppression.objects.count() == 0


# --- the gate -----------------------------------------------------------------------------


def test_marketing_skips_suppressed_recipients_not_sent_not_charged() -> None:
    django_smsrest.suppress(A)
    msg = services.send_sms("Sale!", [A, B], purpose="marketing")
    [order] = locmem.outbox
    assert order.recipients == (B,)
    assert msg.status == Status.SENT and msg.total_sent == 1
    assert states(msg) == {A: SUPPRESSED, B: ""}
    assert msg.recipient_count == 2  # they stay on the row


def test_transactional_messages_still_reach_suppressed_numbers() -> None:
    django_smsrest.suppress(A)
    msg = services.send_sms("Your code is 123456", [A, B])
    [order] = locmem.outbox
    assert order.recipients == (A, B) and msg.status == Status.SENT
    assert states(msg) == {A: "", B: ""}


def test_every_recipient_suppressed_ends_without_a_post() -> None:
    django_smsrest.suppress(A)
    django_smsrest.suppress(B)
    msg = services.send_sms("Sale!", [A, B], purpose="marketing")
    assert locmem.outbox == [] and locmem.calls("send") == 0
    assert msg.status == Status.CANCELLED
    assert "suppression list" in msg.last_error
    assert msg.total_sent is None and msg.finished_at is not None
    assert states(msg) == {A: SUPPRESSED, B: SUPPRESSED}
    assert set(SmsOrder.objects.filter(message=msg).values_list("status", flat=True)) == {
        OrderStatus.CANCELLED
    }


def test_an_opt_out_between_queueing_and_sending_holds() -> None:
    with no_task_worker:
        msg = services.queue_sms("Sale!", [A, B], purpose="marketing")
    django_smsrest.suppress(B, reason="STOP")
    sent = services.send_message(msg.pk)
    assert sent is not None and sent.status == Status.SENT
    [order] = locmem.outbox
    assert order.recipients == (A,)
    assert states(sent) == {A: "", B: SUPPRESSED}


@override_settings(SMSREST={**SMSREST, "CONCURRENCY": 4})
def test_the_batched_flush_goes_through_the_same_gate() -> None:
    django_smsrest.suppress(A)
    with no_task_worker:
        partly = services.queue_sms("one", [A, B], purpose="marketing")
        nobody = services.queue_sms("two", [A], purpose="marketing")
        plain = services.queue_sms("three", [A])
    services.flush_queue()
    sent = {order.message: order.recipients for order in locmem.outbox}
    assert sent == {"one": (B,), "three": (A,)}
    for msg in (partly, nobody, plain):
        msg.refresh_from_db()
    assert partly.status == Status.SENT and states(partly) == {A: SUPPRESSED, B: ""}
    assert nobody.status == Status.CANCELLED and "suppression" in nobody.last_error
    assert plain.status == Status.SENT


@override_settings(SMSREST={**SMSREST, "MAX_RECIPIENTS_PER_ORDER": 1})
def test_an_order_left_with_nobody_is_never_posted() -> None:
    django_smsrest.suppress(B)
    msg = services.send_sms("Sale!", [A, B, C], purpose="marketing")
    assert [o.recipients for o in locmem.outbox] == [(A,), (C,)]
    assert msg.status == Status.SENT and msg.total_sent == 2
    statuses = list(SmsOrder.objects.filter(message=msg).values_list("status", flat=True))
    assert statuses == [OrderStatus.ACCEPTED, OrderStatus.CANCELLED, OrderStatus.ACCEPTED]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_an_order_left_with_nobody_is_never_posted_by_the_batched_flush(
    concurrency: int,
) -> None:
    """The same in a flush: a message of several orders takes the flush's per-message way
    (outbox.batch_rows.load_batch), with the orders the claim loaded; the order whose
    every recipient is suppressed is cancelled and never POSTed, not POSTed to nobody."""
    django_smsrest.suppress(B)
    settings = {**SMSREST, "MAX_RECIPIENTS_PER_ORDER": 1, "CONCURRENCY": concurrency}
    with override_settings(SMSREST=settings):
        with no_task_worker:
            msg = services.queue_sms("Sale!", [A, B, C], purpose="marketing")
            single = services.queue_sms("Sale!", [B], purpose="marketing")
        services.flush_queue()
    assert sorted(o.recipients for o in locmem.outbox) == [(A,), (C,)]
    assert all(o.recipients for o in locmem.outbox)
    msg.refresh_from_db()
    single.refresh_from_db()
    assert msg.status == Status.SENT and msg.total_sent == 2
    statuses = list(SmsOrder.objects.filter(message=msg).values_list("status", flat=True))
    assert statuses == [OrderStatus.ACCEPTED, OrderStatus.CANCELLED, OrderStatus.ACCEPTED]
    assert single.status == Status.CANCELLED


def test_personalised_marketing_keeps_each_recipients_values() -> None:
    django_smsrest.suppress(A)
    recipients = [{"recipient": A, "name": "Ada"}, {"recipient": B, "name": "Bea"}]
    msg = services.send_sms("Ciao ${name}", recipients, purpose="marketing")
    [order] = locmem.outbox
    assert order.recipients == (B,) and [dict(p) for p in order.params] == [{"name": "Bea"}]
    assert msg.status == Status.SENT


def test_delivery_summary_ignores_suppressed_recipients() -> None:
    django_smsrest.suppress(A)
    msg = services.send_sms("Sale!", [A, B], purpose="marketing")
    locmem.set_delivery_state("DLVRD", to=B)
    refreshed = services.refresh_status(msg)
    assert refreshed.status == Status.DELIVERED  # not "partially": A was never sent
    assert states(refreshed) == {A: SUPPRESSED, B: "DLVRD"}


def test_the_command_says_why_nothing_was_sent() -> None:
    import io

    from django.core.management import call_command

    django_smsrest.suppress(A)
    out = io.StringIO()
    call_command("send_sms", "--to", A, "--marketing", "Sale!", stdout=out)
    line = out.getvalue()
    assert "Cancelled" in line and "every recipient is on the suppression list" in line


def test_the_gate_costs_no_query_for_transactional_and_one_for_marketing(
    django_assert_num_queries: Any,
) -> None:
    """The consent gate runs before every POST: it must stay cheap on the hot path."""
    from django_smsrest import screening
    from django_smsrest.conf import get_settings

    conf = get_settings()
    with no_task_worker:
        plain = services.queue_sms("code", [A, B])
        promo = services.queue_sms("sale", [A, B], purpose="marketing")
    with django_assert_num_queries(0):
        assert screening.screen(plain, None, conf) is screening.PASS
    with django_assert_num_queries(1):
        assert screening.screen(promo, None, conf) is screening.PASS
