"""Issue 23 item 7: retention. ``cleanup_sms --days N [--dry-run] [--redact]`` and the
sweep with ``RETENTION_DAYS``: finished messages and received SMS older than N days go
(in batches), open ones are never touched, redaction keeps the rows but blanks texts and
numbers, and the dashboard's figures are the same after a purge."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from django_smsrest import services
from django_smsrest.admin import dashboard
from django_smsrest.models import (
    ReceivedSms,
    SmsMessage,
    SmsOrder,
    SmsRecipient,
    Status,
)
from django_smsrest.services import retention
from django_smsrest.testing.tasks import no_task_worker
from tests.settings import SMSREST

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_gateway")]

A, B = "+393471234567", "+393471234568"


def aged(msg: SmsMessage, days: float) -> SmsMessage:
    """Move a message's creation (and sending) ``days`` back in time."""
    when = timezone.now() - timedelta(days=days)
    SmsMessage.objects.filter(pk=msg.pk).update(created_at=when, sent_at=when)
    msg.refresh_from_db()
    return msg


def finished(text: str = "old", days: float = 40, **kwargs: object) -> SmsMessage:
    msg = services.send_sms(text, [A, B], **kwargs)  # type: ignore[arg-type]
    SmsMessage.objects.filter(pk=msg.pk).update(
        status=Status.DELIVERED, next_status_check_at=None, finished_at=timezone.now()
    )
    return aged(msg, days)


def received(days: float, text: str = "STOP") -> ReceivedSms:
    when = timezone.now() - timedelta(days=days)
    return ReceivedSms.objects.create(
        gateway_id=f"g{ReceivedSms.objects.count()}",
        sender=A,
        text=text,
        received_at=when,
        raw={"text": text},
    )


@pytest.fixture
def mixture() -> dict[str, SmsMessage]:
    """Old finished, old but open (queued, scheduled, awaiting receipts), recent."""
    rows = {"old": finished("old"), "recent": finished("recent", days=2)}
    with no_task_worker:
        rows["queued"] = aged(services.queue_sms("queued", [A]), 40)
    sched = services.send_sms(
        "sched", [A], scheduled_delivery_time=timezone.now() + timedelta(days=2)
    )
    rows["scheduled"] = aged(sched, 40)
    rows["polled"] = aged(services.send_sms("polled", [A]), 40)  # SENT, still polled
    received(40)
    received(1, "recent")
    return rows


def test_delete_only_finished_and_old(mixture: dict[str, SmsMessage]) -> None:
    report = retention.cleanup(30)
    assert (report.messages, report.received) == (1, 1)
    left = set(SmsMessage.objects.values_list("message", flat=True))
    assert left == {"recent", "queued", "sched", "polled"}
    assert not SmsRecipient.objects.filter(message_id=mixture["old"].pk).exists()
    assert not SmsOrder.objects.filter(message_id=mixture["old"].pk).exists()
    assert list(ReceivedSms.objects.values_list("text", flat=True)) == ["recent"]


def test_batches_cover_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    for i in range(5):
        finished(f"m{i}")
    calls: list[int] = []
    report = retention.cleanup(30, keep=lambda: calls.append(1))
    assert report.messages == 5 and len(calls) == 3  # 2 + 2 + 1
    assert not SmsMessage.objects.exists()


def test_redact_keeps_rows_but_blanks_texts_and_numbers(mixture: dict[str, SmsMessage]) -> None:
    report = retention.cleanup(30, redact=True)
    assert (report.messages, report.received) == (1, 1)
    old = SmsMessage.objects.get(pk=mixture["old"].pk)
    assert old.message == "" and old.redacted_at is not None
    assert old.status == Status.DELIVERED and old.recipient_count == 2
    numbers = list(old.recipients.values_list("phone_number", flat=True))
    assert all(n.startswith("~") for n in numbers) and A not in numbers
    gone = ReceivedSms.objects.get(received_at__lt=timezone.now() - timedelta(days=30))
    assert (gone.text, gone.sender, gone.raw) == ("", "", {})
    # Nothing else was touched, and a second run finds nothing to do.
    assert SmsMessage.objects.get(pk=mixture["queued"].pk).message == "queued"
    again = retention.cleanup(30, redact=True)
    assert (again.messages, again.received) == (0, 0)


def test_dashboard_is_the_same_after_a_purge() -> None:
    for i in range(3):
        finished(f"d{i}", days=10)
    failed = services.send_sms("f", [A], purpose="marketing")
    SmsMessage.objects.filter(pk=failed.pk).update(status=Status.FAILED, next_status_check_at=None)
    aged(failed, 10)
    finished("recent", days=1)
    before = dashboard.build()
    before_marketing = dashboard.build(purpose="marketing")
    report = retention.cleanup(5)
    assert report.messages == 4
    after = dashboard.build()
    assert after.per_day == before.per_day and after.totals == before.totals
    assert after.delivery_rate == before.delivery_rate
    assert after.credits == before.credits and after.credits
    assert dashboard.build(purpose="marketing").totals == before_marketing.totals
    # A second purge of other rows adds to the same tallies.
    finished("later", days=10)
    before = dashboard.build()
    retention.cleanup(5)
    assert dashboard.build().per_day == before.per_day


def test_command_dry_run_then_delete(mixture: dict[str, SmsMessage]) -> None:
    out = io.StringIO()
    call_command("cleanup_sms", "--days", "30", "--dry-run", stdout=out)
    assert "Dry run: 1 messages and 1 received SMS older than 30 days" in out.getvalue()
    assert SmsMessage.objects.count() == 5
    out = io.StringIO()
    call_command("cleanup_sms", "--days", "30", stdout=out)
    assert out.getvalue().startswith("Deleted 1 messages and 1 received SMS older than 30 days")
    assert SmsMessage.objects.count() == 4


def test_command_refuses_zero_days() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        call_command("cleanup_sms", "--days", "0")


def test_the_sweep_purges_with_retention_days(mixture: dict[str, SmsMessage]) -> None:
    services.sweep()
    assert SmsMessage.objects.filter(pk=mixture["old"].pk).exists()  # off by default
    with override_settings(SMSREST={**SMSREST, "RETENTION_DAYS": 30}):
        report = services.sweep()
    assert report.errors == 0
    assert not SmsMessage.objects.filter(pk=mixture["old"].pk).exists()
    assert SmsMessage.objects.filter(pk=mixture["queued"].pk).exists()
