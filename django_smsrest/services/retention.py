"""Retention: :func:`cleanup` deletes (or redacts) finished messages and received SMS
older than a number of days, in batches (``manage.py cleanup_sms``, and the sweep when
``SMSREST["RETENTION_DAYS"]`` is set).

* Only **finished** messages are touched: failed, cancelled, delivered, partially
  delivered, undelivered, and sent ones whose delivery status is no longer polled. A
  message still queued, being sent, unknown, scheduled or being polled is never touched,
  however old.
* **Delete**: each batch is one transaction that first adds the batch to the daily
  tallies (:class:`~django_smsrest.models.DailyTally`) and then deletes the rows
  (recipients, orders, messages), so the dashboard's per-day figures and credits chart
  stay right after a purge.
* **Redact** (``redact=True``): the rows stay for statistics; the text, the recipients'
  numbers and placeholder values, the override numbers, and the received SMS' text,
  sender and raw JSON are blanked. Redacted rows are not redacted again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, Min, Q, QuerySet, Value
from django.db.models.functions import Concat, TruncDate
from django.utils import timezone

from django_smsrest import lifecycle
from django_smsrest.models import (
    DailyTally,
    ReceivedSms,
    SmsMessage,
    SmsOrder,
    SmsRecipient,
    Status,
)
from django_smsrest.outbox import outbox_db

__all__ = ["CleanupReport", "cleanup", "finished_q"]

#: Messages (or received SMS) per batch: one transaction each.
BATCH = 500
#: What a redacted recipient's number becomes: ``~`` and the row's id (unique per message,
#: never a phone number).
REDACTED_PREFIX = "~"


@dataclass
class CleanupReport:
    """What :func:`cleanup` did (or, with ``dry_run``, would do)."""

    cutoff: datetime
    messages: int = 0
    received: int = 0
    redacted: bool = False
    dry_run: bool = False


def finished_q() -> Q:
    """Messages nothing will happen to any more: a final status, or SENT and no longer
    polled (finished, or past ``STATUS_POLL_MAX_AGE_HOURS``)."""
    return Q(status__in=list(lifecycle.FINAL)) | Q(
        status=Status.SENT, next_status_check_at__isnull=True, lease_until__isnull=True
    )


def cleanup(
    days: int,
    *,
    redact: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
    limit: int | None = None,
    keep: Callable[[], None] | None = None,
) -> CleanupReport:
    """Delete (or ``redact``) the finished messages created, and the received SMS
    received, more than ``days`` days ago; ``dry_run``: only count them. At most
    ``limit`` of each (``None``: all). ``keep()`` is called between batches (the sweep
    renews its lock there). Raises ``ValueError`` for ``days < 1``."""
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise ValueError(f"days must be a whole number of at least 1, not {days!r}")
    now = now or timezone.now()
    report = CleanupReport(cutoff=now - timedelta(days=days), redacted=redact, dry_run=dry_run)
    messages = SmsMessage.objects.filter(finished_q(), created_at__lt=report.cutoff)
    received = ReceivedSms.objects.filter(
        Q(received_at__lt=report.cutoff)
        | Q(received_at__isnull=True, fetched_at__lt=report.cutoff)
    )
    if redact:
        messages = messages.filter(redacted_at__isnull=True)
        received = received.exclude(text="", sender="", raw={})
    if dry_run:
        report.messages = _capped(messages, limit)
        report.received = _capped(received, limit)
        return report
    report.messages = _in_batches(
        messages, limit, keep, _redact_messages if redact else _delete_messages, now
    )
    report.received = _in_batches(
        received, limit, keep, _redact_received if redact else _delete_received, now
    )
    return report


def _capped(queryset: QuerySet[ReceivedSms] | QuerySet[SmsMessage], limit: int | None) -> int:
    if limit is None:
        return queryset.count()
    return len(queryset.order_by().values_list("pk", flat=True)[:limit])


def _in_batches(
    queryset: QuerySet[ReceivedSms] | QuerySet[SmsMessage],
    limit: int | None,
    keep: Callable[[], None] | None,
    work: Callable[[list[int], datetime], int],
    now: datetime,
) -> int:
    """Walk ``queryset`` by primary key, ``BATCH`` at a time, each batch its own
    transaction; the total ``work`` reported."""
    done = 0
    last = 0
    while limit is None or done < limit:
        size = BATCH if limit is None else min(BATCH, limit - done)
        ids = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            break
        with transaction.atomic(using=outbox_db()):
            done += work(ids, now)
        last = ids[-1]
        if keep is not None:
            keep()
    return done


def _delete_messages(ids: list[int], now: datetime) -> int:
    # Re-checked inside the transaction: a row that moved on meanwhile (a resend of it
    # does not change it; nothing reopens a final message) is left alone.
    rows = SmsMessage.objects.filter(finished_q(), pk__in=ids).order_by()
    _tally(rows)
    ids = list(rows.values_list("pk", flat=True))
    SmsRecipient.objects.filter(message_id__in=ids).delete()
    SmsOrder.objects.filter(message_id__in=ids).delete()
    deleted = SmsMessage.objects.filter(pk__in=ids).delete()[1].get(SmsMessage._meta.label, 0)
    return int(deleted)


def _tally(rows: QuerySet[SmsMessage]) -> None:
    """Add ``rows`` to the daily tallies the dashboard reads beside the live rows: their
    count per creation day, purpose, type and status, and the lowest remaining credits
    they reported (a message is sent soon after it is created: the dashboard's credits
    chart, by day of sending, takes it for that day)."""
    groups = (
        rows.annotate(day=TruncDate("created_at"))
        .values("day", "purpose", "message_type", "status")
        .annotate(n=Count("pk"), low=Min("remaining_credits"))
        .order_by()
    )
    for row in groups:
        key = {k: row[k] for k in ("day", "purpose", "message_type", "status")}
        tally, created = DailyTally.objects.select_for_update().get_or_create(
            **key, defaults={"count": row["n"], "low_credits": row["low"]}
        )
        if created:
            continue
        fields: dict[str, object] = {"count": F("count") + row["n"]}
        if row["low"] is not None and (
            tally.low_credits is None or row["low"] < tally.low_credits
        ):
            fields["low_credits"] = row["low"]
        DailyTally.objects.filter(pk=tally.pk).update(**fields)


def _redact_messages(ids: list[int], now: datetime) -> int:
    rows = SmsMessage.objects.filter(finished_q(), pk__in=ids, redacted_at__isnull=True)
    ids = list(rows.values_list("pk", flat=True))
    SmsRecipient.objects.filter(message_id__in=ids).update(
        phone_number=Concat(Value(REDACTED_PREFIX), F("pk")), params={}
    )
    return SmsMessage.objects.filter(pk__in=ids).update(
        message="", overridden_to=[], groups=[], redacted_at=now, updated_at=now
    )


def _delete_received(ids: list[int], now: datetime) -> int:
    return int(ReceivedSms.objects.filter(pk__in=ids).delete()[0])


def _redact_received(ids: list[int], now: datetime) -> int:
    return ReceivedSms.objects.filter(pk__in=ids).update(text="", sender="", raw={})
