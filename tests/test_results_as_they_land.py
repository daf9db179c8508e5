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
