"""Results are written as they land: a flush does not keep accepted messages SENDING while a
last, slow request is still out."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.test import override_settings

from django_smsrest import dispatch, services
from django_smsrest.backends import OutgoingOrder, locmem
from django_smsrest.models import SmsMessage, Status
from django_smsrest.results import SendResult
from django_smsrest.testing.outbox import sms_outbox  # noqa: F401 (fixture)
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db

N = 10


class LastIsSlow(locmem.LocmemBackend):
    """The POST of the last message waits until every other message was settled (or 5 s:
    then ``waited_in_vain``)."""

    last_text = f"n{N - 1}"
    others_settled = threading.Event()
    waited_in_vain = False

    def send(self, order: OutgoingOrder) -> SendResult:
        if order.message == self.last_text:
            type(self).waited_in_vain = not self.others_settled.wait(5)
        return super().send(order)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_accepted_messages_are_sent_before_the_last_request_lands(
    sms_outbox: list,  # noqa: F811
    concurrency: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    LastIsSlow.others_settled.clear()
    LastIsSlow.waited_in_vain = False
    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)  # no task worker
    pks = [services.queue_sms(f"n{i}", ["+393471234567"]).pk for i in range(N)]
    statuses: dict[int, Any] = {}

    def settled(pk: int, msg: SmsMessage | None) -> None:
        statuses[pk] = SmsMessage.objects.get(pk=pk).status  # what the database says now
        if len(statuses) == N - 1:
            LastIsSlow.others_settled.set()

    backend = f"{__name__}.LastIsSlow"
    with override_settings(SMSREST={**SMSREST, "CONCURRENCY": concurrency, "BACKEND": backend}):
        report = services.flush_queue(on_progress=settled)

    assert report.by_status == {Status.SENT: N}
    assert not LastIsSlow.waited_in_vain, "the others stayed SENDING until the last landed"
    assert [statuses[pk] for pk in pks] == [Status.SENT] * N


# --- a delivery callback while the message is claimed ------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_dlvrd_callback_during_the_batch_write_reaches_delivered_without_a_poll(
    sms_outbox: list,  # noqa: F811
    concurrency: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gateway accepted the order and delivered it at once; its DLVRD callback comes
    while the flush is writing the batch's results (the row still SENDING, claimed). The
    report is kept and applied when the claim ends: DELIVERED, and no GET sms/{order_id}."""
    from django_smsrest.outbox import batch

    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)  # no task worker
    msg = services.queue_sms("Ciao", ["+393471234567"])
    outcomes: list[services.CallbackOutcome] = []
    real_write = batch.write_accepted

    def callback_first(*args: Any, **kwargs: Any) -> set[int]:
        outcomes.append(services.record_delivery_report(msg.order_id, "393471234567", "DLVRD"))
        return real_write(*args, **kwargs)

    monkeypatch.setattr(batch, "write_accepted", callback_first)
    with override_settings(SMSREST={**SMSREST, "CONCURRENCY": concurrency}):
        report = services.flush_queue()

    assert outcomes == [services.CallbackOutcome.HELD]
    # The held report was applied as the claim ended, before the flush reported it.
    assert report.by_status == {Status.DELIVERED: 1}
    msg.refresh_from_db()
    assert msg.status == Status.DELIVERED
    assert msg.finished_at is not None and msg.next_status_check_at is None
    assert msg.recipients.get().state == "DLVRD"
    assert locmem.calls("get_order") == 0  # no poll
    assert not msg.held_reports.exists()


def test_a_callback_while_a_single_send_is_claimed_is_applied_at_its_end(
    sms_outbox: list,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same for send_message (the task body): the report comes during the POST."""
    from django_smsrest import signals

    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)
    msg = services.queue_sms("Ciao", ["+393471234567"])
    outcomes: list[services.CallbackOutcome] = []

    def during_the_post(sender: Any, message: SmsMessage, **kwargs: Any) -> None:
        outcomes.append(services.record_delivery_report(msg.order_id, "+393471234567", "DLVRD"))

    signals.pre_send.connect(during_the_post)
    try:
        sent = services.send_message(msg.pk)
    finally:
        signals.pre_send.disconnect(during_the_post)
    assert outcomes == [services.CallbackOutcome.HELD]
    assert sent is not None and sent.status == Status.DELIVERED
    assert locmem.calls("get_order") == 0


# --- the stop hook -----------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4])
def test_the_stop_hook_stops_claiming_and_gives_back_what_was_not_posted(
    sms_outbox: list,  # noqa: F811
    concurrency: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker asked to stop (SIGTERM) sets the event: the flush claims and POSTs nothing
    more, records what is in flight, and puts claimed-but-unposted messages straight back
    (QUEUED, no attempt counted), without waiting for their leases."""
    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)
    pks = [services.queue_sms(f"n{i}", ["+393471234567"]).pk for i in range(20)]
    stop = threading.Event()

    def after_the_third(pk: int, msg: SmsMessage | None) -> None:
        if pk == pks[2]:
            stop.set()

    with override_settings(SMSREST={**SMSREST, "CONCURRENCY": concurrency}):
        report = services.flush_queue(on_progress=after_the_third, stop=stop)

    assert report.stopped and not report.stopped_early
    sent = SmsMessage.objects.filter(status=Status.SENT).count()
    assert 3 <= sent < 20 and len(sms_outbox) == sent  # what was in flight, no more
    assert not SmsMessage.objects.filter(status=Status.SENDING).exists()
    back = SmsMessage.objects.filter(status=Status.QUEUED, attempts=0, lease_until=None)
    assert back.count() == 20 - sent


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_report_held_for_a_message_that_ends_unsent_is_dropped(
    sms_outbox: list,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    concurrency: int,
) -> None:
    """A report held while the message was claimed, then the message ends CANCELLED (a
    pre_send veto) with nothing sent: no claim will ever record it sent, so the held report
    is deleted with that ending, as a callback for a finished message is ignored (main
    kept it for ever)."""
    from django_smsrest import signals
    from django_smsrest.exceptions import SendCancelled
    from django_smsrest.models import HeldDeliveryReport

    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)
    msg = services.queue_sms("Ciao", ["+393471234567"])
    outcomes: list[services.CallbackOutcome] = []

    def held_then_vetoed(sender: Any, message: SmsMessage, **kwargs: Any) -> None:
        outcomes.append(services.record_delivery_report(msg.order_id, "+393471234567", "DLVRD"))
        raise SendCancelled("not today")

    signals.pre_send.connect(held_then_vetoed)
    try:
        with override_settings(SMSREST={**SMSREST, "CONCURRENCY": concurrency}):
            services.flush_queue()
    finally:
        signals.pre_send.disconnect(held_then_vetoed)
    assert outcomes == [services.CallbackOutcome.HELD]
    msg.refresh_from_db()
    assert msg.status == Status.CANCELLED
    assert not sms_outbox
    assert not HeldDeliveryReport.objects.exists()
