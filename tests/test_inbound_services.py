"""services.receive_sms on the locmem backend: once per gateway id, the signal after commit,
paging, recovery of what a crashed poller consumed, and the sweep's RECEIVE switch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from django_smsrest import services, signals
from django_smsrest.backends import locmem
from django_smsrest.backends.base import UnsupportedOperation
from django_smsrest.exceptions import GatewayTimeout
from django_smsrest.models import ReceiveCheckpoint, ReceivedSms
from django_smsrest.services import inbound
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _empty_gateway() -> Iterator[None]:
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture
def received() -> Iterator[list[Any]]:
    """The ``message`` of every ``sms_received`` sent, in order."""
    seen: list[Any] = []

    def receiver(sender: Any, message: Any, **kwargs: Any) -> None:
        assert sender is ReceivedSms
        seen.append(message)

    signals.sms_received.connect(receiver, weak=False)
    yield seen
    signals.sms_received.disconnect(receiver)


def test_poll_stores_every_message_once_and_signals_each(received: list[Any]) -> None:
    locmem.deliver_inbound("+393331112223", "Ciao")
    locmem.deliver_inbound("+393331112224", "Si, confermo", sim="+393400000009")

    first = services.receive_sms()
    second = services.receive_sms()

    assert (first.fetched, first.stored, first.recovered) == (2, 2, 0)
    assert (second.fetched, second.stored) == (0, 0)
    assert second.history_read == 2  # re-read, and recognised as stored
    rows = list(ReceivedSms.objects.order_by("pk"))
    assert [(r.gateway_id, r.sender, r.sim, r.text) for r in rows] == [
        ("1", "+393331112223", "+393400000000", "Ciao"),
        ("2", "+393331112224", "+393400000009", "Si, confermo"),
    ]
    assert rows[0].raw["phoneNumber"] == "+393331112223"
    assert [m.pk for m in received] == [r.pk for r in rows]


def test_signal_waits_for_the_commit(received: list[Any]) -> None:
    from django.db import transaction

    locmem.deliver_inbound("+393331112223", "Ciao")
    with transaction.atomic():
        services.receive_sms()
        assert received == []  # stored, not yet committed
    assert len(received) == 1


def test_a_poller_that_died_after_the_cursor_answered_loses_nothing(
    received: list[Any],
) -> None:
    """The cursor consumed three messages, then the answer was lost (the process died or
    the read timed out): the next poll finds them in the history."""
    for n in range(3):
        locmem.deliver_inbound("+393331112223", f"m{n}")
    locmem.fail_next("receive", GatewayTimeout("lost answer"), accept=True)

    with pytest.raises(GatewayTimeout):
        services.receive_sms()
    assert ReceivedSms.objects.count() == 0

    report = services.receive_sms()

    assert report.fetched == 0  # the cursor gives them no more
    assert sorted(ReceivedSms.objects.values_list("text", flat=True)) == ["m0", "m1", "m2"]
    assert len(received) == 3


def test_recovery_is_counted_as_recovered() -> None:
    for n in range(3):
        locmem.deliver_inbound("+393331112223", f"m{n}")
    locmem.fail_next("receive", GatewayTimeout("lost answer"), accept=True)
    with pytest.raises(GatewayTimeout):
        services.receive_sms()

    report = services.receive_sms()

    assert (report.fetched, report.stored, report.recovered) == (0, 3, 3)


def test_a_failed_poll_does_not_move_the_checkpoint() -> None:
    services.receive_sms()
    before = ReceiveCheckpoint.objects.get().covered_until
    locmem.fail_next("received_history", GatewayTimeout("down"))

    with pytest.raises(GatewayTimeout):
        services.receive_sms()

    assert ReceiveCheckpoint.objects.get().covered_until == before


def test_checkpoint_moves_to_the_start_of_the_last_complete_poll() -> None:
    started = timezone.now()
    services.receive_sms()
    covered = ReceiveCheckpoint.objects.get().covered_until
    assert started <= covered <= timezone.now()


def test_first_poll_reads_a_day_of_history_but_not_older() -> None:
    now = timezone.now()
    locmem.deliver_inbound("+393331112223", "old", received_at=now - timedelta(days=2))
    locmem.deliver_inbound("+393331112223", "recent", received_at=now - timedelta(hours=2))
    locmem.fail_next("receive", GatewayTimeout("lost answer"), accept=True)
    with pytest.raises(GatewayTimeout):
        services.receive_sms()

    services.receive_sms()

    # "old" was consumed by the dead poll and is beyond the first poll's look-back.
    assert list(ReceivedSms.objects.values_list("text", flat=True)) == ["recent"]


def test_pages_of_100_until_a_short_page() -> None:
    for n in range(230):
        locmem.deliver_inbound("+393331112223", f"m{n}")

    report = services.receive_sms()

    assert report.fetched == 230 and report.stored == 230
    assert locmem.calls("receive") == 3  # 100 + 100 + 30
    assert locmem.calls("received_history") == 3  # the same, re-read
    assert ReceivedSms.objects.values("gateway_id").distinct().count() == 230


def test_an_item_seen_twice_in_one_page_is_stored_once() -> None:
    item = locmem.deliver_inbound("+393331112223", "once")

    rows = inbound._store([item, item])

    assert len(rows) == 1 and ReceivedSms.objects.count() == 1


def test_sweep_polls_only_when_receive_is_on() -> None:
    locmem.deliver_inbound("+393331112223", "Ciao")

    off = services.sweep()
    assert off.received is None and ReceivedSms.objects.count() == 0
    with override_settings(SMSREST={**SMSREST, "RECEIVE": True}):
        on = services.sweep()

    assert on.received == 1 and ReceivedSms.objects.count() == 1


def test_sweep_survives_a_failing_poll() -> None:
    locmem.fail_next("receive", GatewayTimeout("down"))
    with override_settings(SMSREST={**SMSREST, "RECEIVE": True}):
        report = services.sweep()

    assert report.errors == 1 and report.received is None


def test_command_receive(capsys: pytest.CaptureFixture[str]) -> None:
    locmem.deliver_inbound("+393331112223", "Ciao")

    call_command("send_sms", "--receive")

    out = capsys.readouterr().out
    assert (
        "Received SMS: fetched: 1; stored: 1; recovered: 0; history read: 1; quarantined: 0."
        in out
    )
    assert ReceivedSms.objects.get().text == "Ciao"


def test_command_receive_refuses_send_options() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--to cannot be combined with --receive"):
        call_command("send_sms", "--receive", "--to", "+393331112223")


def test_backend_without_inbound_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locmem.LocmemBackend, "supports_inbound", False)

    with pytest.raises(UnsupportedOperation, match="supports_inbound is False"):
        services.receive_sms()
