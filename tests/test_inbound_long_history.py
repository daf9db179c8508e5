"""More received SMS in the history window than one poll may read (``MAX_PAGES`` pages of
100: 10,000 on the real gateway; 3 pages here, so 350 messages are "too many"). On main the
history was cut short on every poll, ``covered_until`` never moved and each poll re-read
the same newest pages forever, never reaching the oldest. Now the window is split in time
(by the history's ``total``) and ``covered_until`` advances window by window."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.models import ReceiveCheckpoint, ReceivedSms
from django_smsrest.services import inbound

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 350


@pytest.fixture(autouse=True)
def _empty_gateway() -> Iterator[None]:
    locmem.reset()
    yield
    locmem.reset()


def test_covered_until_advances_through_a_history_longer_than_one_poll(monkeypatch) -> None:
    monkeypatch.setattr(inbound, "MAX_PAGES", 3)
    now = timezone.now()
    start = now - timedelta(hours=3)
    for i in range(MESSAGES):
        locmem.deliver_inbound(
            f"+39333{i:07d}", f"n. {i}", received_at=start + timedelta(seconds=30 * i)
        )
    # A poller consumed them all from the cursor and died: only the history has them.
    for entry in locmem._inbox:
        entry[1] = True
    ReceiveCheckpoint.objects.create(
        name=inbound.CHECKPOINT, covered_until=start - timedelta(minutes=1)
    )

    covered = [ReceiveCheckpoint.objects.get().covered_until]
    for _poll in range(6):
        services.receive_sms()
        covered.append(ReceiveCheckpoint.objects.get().covered_until)
        if ReceivedSms.objects.count() == MESSAGES and covered[-1] > now:
            break

    assert ReceivedSms.objects.count() == MESSAGES  # the oldest too
    assert covered[-1] > now  # the whole window is covered
    assert all(b > a for a, b in itertools.pairwise(covered))  # every poll moved it


def test_a_stop_request_ends_the_poll_after_the_page_in_hand() -> None:
    """A worker told to stop (SIGTERM) asks for no new page: what was read is stored, the
    checkpoint stays where it was, and the next poll reads the rest."""
    from django_smsrest import signals
    from django_smsrest.outbox import stopping

    for i in range(250):
        locmem.deliver_inbound(f"+39333{i:07d}", f"n. {i}")

    def stop(**kwargs: object) -> None:
        stopping.request_stop()

    signals.sms_received.connect(stop, weak=False)
    try:
        first = services.receive_sms()
    finally:
        signals.sms_received.disconnect(stop)
        stopping.clear()
    checkpoint = ReceiveCheckpoint.objects.get().covered_until

    assert (first.fetched, first.stored, first.history_read) == (100, 100, 0)
    second = services.receive_sms()
    assert second.stored == 150 and ReceivedSms.objects.count() == 250
    assert ReceiveCheckpoint.objects.get().covered_until > checkpoint


@pytest.mark.slow
def test_more_than_10000_in_the_window_at_full_scale() -> None:
    """The same at the real limits: 10,050 received SMS in the window, 100 pages of 100
    per poll. On main every poll re-read the newest 10,000 and never covered the window."""
    now = timezone.now()
    start = now - timedelta(hours=20)
    for i in range(10_050):
        locmem.deliver_inbound(
            f"+39333{i:07d}", f"n. {i}", received_at=start + timedelta(seconds=7 * i)
        )
    for entry in locmem._inbox:
        entry[1] = True
    ReceiveCheckpoint.objects.create(
        name=inbound.CHECKPOINT, covered_until=start - timedelta(minutes=1)
    )

    first = services.receive_sms()
    second = services.receive_sms()

    assert first.stored + second.stored == 10_050 == ReceivedSms.objects.count()
    assert ReceiveCheckpoint.objects.get().covered_until > now
