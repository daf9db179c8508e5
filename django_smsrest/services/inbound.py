"""Received SMS: :func:`receive_sms` polls the gateway and stores each message once.

The gateway offers two reads (reference §7.2): ``GET newsrsmsmessage``, a server-side
cursor that returns what arrived since its previous call and **consumes** it, and ``GET
srsmshistory``, which re-reads by date and consumes nothing. The cursor alone can lose
messages: a poller that dies (or times out) after the gateway answered and before its
transaction committed has consumed messages nobody stored. So each poll does:

1. **The cursor**, ``limit`` 100 per page, until a page comes back short; each page is
   stored in its own transaction.
2. **The history** from ``covered_until - HISTORY_OVERLAP`` to now (``covered_until`` is
   in the one :class:`~django_smsrest.models.ReceiveCheckpoint` row). This finds what a
   dead poller consumed, and what arrived between step 1 and step 2.
3. ``covered_until`` moves to the time this poll **started** (only forward): every message
   received before it was either returned by our cursor (stored in step 1) or is in the
   history read of step 2 (stored there).

Cursor first, history second: a crash during step 1 leaves ``covered_until`` where it was,
so the next poll's history covers what was lost. The price is that recent messages are read
twice (once per endpoint); storing is idempotent so that costs requests, not duplicates.
``HISTORY_OVERLAP`` absorbs a skew between our clock and the gateway's.

**Exactly once.** ``ReceivedSms.gateway_id`` is unique; a page is inserted with
``bulk_create(ignore_conflicts=True)`` (rows sorted by id, so two pollers inserting the same
ids on PostgreSQL take their locks in the same order), each insert tagged with this call's
batch token, so the rows this call really inserted are known exactly: ``sms_received`` is
sent for those only, after commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from django_smsrest import signals
from django_smsrest.backends import get_backend
from django_smsrest.backends.base import BaseBackend, UnsupportedOperation
from django_smsrest.client.hostile import safe_text
from django_smsrest.client.inbound import MAX_LIMIT, ReceivedItem, ReceivedPage
from django_smsrest.conf import get_settings
from django_smsrest.models import QuarantinedSms, ReceiveCheckpoint, ReceivedSms
from django_smsrest.outbox import stopping
from django_smsrest.services.base import logger

__all__ = ["HISTORY_OVERLAP", "ReceiveReport", "receive_sms"]

#: How far before ``covered_until`` the history is re-read (clock skew with the gateway).
HISTORY_OVERLAP = timedelta(minutes=10)
#: The first poll ever also reads this much history (nothing is covered yet).
FIRST_LOOKBACK = timedelta(hours=24)
#: At most this many pages per endpoint per poll; the rest waits for the next poll.
MAX_PAGES = 100
#: A history window is not split below this (a gateway that received more than
#: ``MAX_PAGES`` pages of SMS in one second is not a case to design for).
MIN_WINDOW = timedelta(seconds=1)
CHECKPOINT = "default"


@dataclass
class ReceiveReport:
    """What :func:`receive_sms` did."""

    fetched: int = 0  # items the cursor returned
    stored: int = 0  # rows inserted (new messages), from either endpoint
    recovered: int = 0  # of those, found only by the history re-read
    history_read: int = 0  # items the history returned (mostly already stored)
    quarantined: int = 0  # items that could not be stored, kept raw (QuarantinedSms)


def _store(items: list[ReceivedItem], report: ReceiveReport | None = None) -> list[ReceivedSms]:
    """Insert the items not stored yet; return the rows this call inserted. The signal is
    sent for them once the transaction commits.

    An item with a ``problem`` (a date in year 1, NaN, a NUL, JSON nested too deep...) is
    quarantined instead (:class:`~django_smsrest.models.QuarantinedSms`), and so is an
    item the database neither inserted nor already had (SQLite's ``INSERT OR IGNORE``
    also ignores a failed CHECK): the good items of the page are stored, nothing raises,
    and the poll can move its checkpoint on. ``report.quarantined`` counts new ones."""
    good = {item.gateway_id: item for item in items if not item.problem}
    bad = [item for item in items if item.problem]
    batch = uuid.uuid4().hex
    rows = [
        ReceivedSms(
            gateway_id=item.gateway_id,
            sender=item.sender,
            sim=item.sim,
            text=item.text,
            received_at=item.received_at,
            raw=dict(item.raw),
            batch=batch,
        )
        for _gid, item in sorted(good.items())
    ]
    inserted: list[ReceivedSms] = []
    db = router.db_for_write(ReceivedSms)
    with transaction.atomic(using=db):
        if rows:
            _insert_rows(rows)
            inserted = list(
                ReceivedSms.objects.filter(gateway_id__in=list(good), batch=batch).order_by("pk")
            )
            present = set(
                ReceivedSms.objects.filter(gateway_id__in=list(good)).values_list(
                    "gateway_id", flat=True
                )
            )
            bad += [
                replace(
                    item,
                    problem=str(_("not stored by the database (it refused the row silently)")),
                    raw_text=safe_text(dict(item.raw)),
                )
                for gid, item in good.items()
                if gid not in present
            ]
        quarantined = _quarantine(bad)
        if report is not None:
            report.quarantined += quarantined
        if inserted:
            transaction.on_commit(lambda: _announce(inserted), using=db, robust=True)
    return inserted


def _insert_rows(rows: list[ReceivedSms]) -> None:
    ReceivedSms.objects.bulk_create(rows, ignore_conflicts=True)


def _quarantine(items: list[ReceivedItem]) -> int:
    """Keep each bad item once (by gateway id, or a hash of its text); how many are new."""
    if not items:
        return 0
    by_key = {item.gateway_id[:64]: item for item in items}
    known = set(QuarantinedSms.objects.filter(key__in=list(by_key)).values_list("key", flat=True))
    new = [
        QuarantinedSms(
            key=key,
            gateway_id="" if key.startswith("h:") else key,
            reason=item.problem[:300],
            raw=item.raw_text,
        )
        for key, item in sorted(by_key.items())
        if key not in known
    ]
    QuarantinedSms.objects.bulk_create(new, ignore_conflicts=True)
    for row in new:
        logger.warning(
            "Received SMS %s quarantined: %s (kept raw; see the admin)",
            row.gateway_id or row.key,
            row.reason,
        )
    return len(new)


def _announce(rows: list[ReceivedSms]) -> None:
    for row in rows:
        for receiver, response in signals.sms_received.send_robust(
            sender=ReceivedSms, message=row
        ):
            if isinstance(response, Exception):
                logger.error(
                    "sms_received receiver %r failed",
                    receiver,
                    exc_info=(type(response), response, response.__traceback__),
                )


def _covered_until(now: datetime) -> datetime:
    checkpoint, _created = ReceiveCheckpoint.objects.get_or_create(
        name=CHECKPOINT, defaults={"covered_until": now - FIRST_LOOKBACK}
    )
    return checkpoint.covered_until


def _drain_cursor(backend: BaseBackend, report: ReceiveReport) -> None:
    for _page in range(MAX_PAGES):
        if stopping.stop_requested():  # a shutdown: no new request (what was read is stored)
            return
        items = backend.receive(MAX_LIMIT)
        report.fetched += len(items)
        report.stored += len(_store(items, report))
        if len(items) < MAX_LIMIT:
            return
    logger.warning("Received SMS: stopped after %d pages; the rest comes next poll", MAX_PAGES)


def _reread_history(
    backend: BaseBackend, since: datetime, until: datetime, report: ReceiveReport
) -> datetime | None:
    """Store what the history has from ``since`` on, in at most ``MAX_PAGES`` requests.
    Returns how far the history is now known to be stored: ``until`` (the poll's start)
    when all of it was read, the end of the last window read whole when it was longer
    than one poll may read, ``None`` when no window could be read whole.

    A window that holds more pages than the requests left (the history's ``total``; or,
    when the gateway gives none, a window that was cut short) is halved in time and read
    again from its start, so a long history is covered a window at a time, poll after
    poll, instead of re-reading the same newest pages forever. Every page read is stored,
    whole window or not."""
    budget = MAX_PAGES
    start, end = since, None  # end None: up to now, as the gateway sees it
    covered: datetime | None = None
    while budget > 0 and not stopping.stop_requested():  # a shutdown: no new request
        window_end = until if end is None else end
        first = backend.received_history(start, page=1, page_size=MAX_LIMIT, date_to=end)
        budget -= 1
        _store_history_page(first.items, report)
        needed = None if first.total is None else -(-first.total // MAX_LIMIT)
        splittable = window_end - start > MIN_WINDOW
        if needed is not None and needed - 1 > budget and splittable:
            end = start + (window_end - start) / 2
            continue
        whole, used = _read_rest_of_window(backend, start, end, first, budget, report)
        budget -= used
        if not whole:
            if needed is None and splittable:
                end = start + (window_end - start) / 2
                continue
            break
        covered = window_end
        if end is None:
            return covered
        start, end = window_end, None
    if stopping.stop_requested():
        return covered
    logger.warning(
        "Received SMS: history longer than %d pages; covered up to %s, the rest next poll",
        MAX_PAGES,
        covered or since,
    )
    return covered


def _read_rest_of_window(
    backend: BaseBackend,
    start: datetime,
    end: datetime | None,
    first: ReceivedPage,
    budget: int,
    report: ReceiveReport,
) -> tuple[bool, int]:
    """Pages 2.. of the window whose page 1 is ``first``, within ``budget`` requests:
    (read whole, requests used). A short page is the last one."""
    page, used = first, 0
    while len(page.items) >= MAX_LIMIT:
        if used >= budget or stopping.stop_requested():
            return False, used
        page = backend.received_history(
            start, page=page.page_number + 1, page_size=MAX_LIMIT, date_to=end
        )
        used += 1
        _store_history_page(page.items, report)
    return True, used


def _store_history_page(items: list[ReceivedItem], report: ReceiveReport) -> None:
    report.history_read += len(items)
    recovered = len(_store(items, report))
    report.recovered += recovered
    report.stored += recovered


def receive_sms() -> ReceiveReport:
    """Poll the gateway for received SMS and store each one exactly once.

    See the module docstring for the order of the reads and why no message is lost when a
    poller dies between the gateway's answer and the commit. Safe to run from several
    processes at once. Sends ``sms_received`` once per new row, after commit. Raises
    :class:`~django_smsrest.backends.base.UnsupportedOperation` when the backend cannot
    read received SMS, and the backend's errors (the next poll carries on where this one
    stopped: nothing is marked covered).
    """
    backend = get_backend(get_settings())
    if not backend.supports_inbound:
        raise UnsupportedOperation(
            f"The {backend.name} backend cannot read received SMS (supports_inbound is False)."
        )
    started = timezone.now()
    covered = _covered_until(started)
    report = ReceiveReport()
    _drain_cursor(backend, report)
    reached = _reread_history(backend, covered - HISTORY_OVERLAP, started, report)
    if reached is not None:
        ReceiveCheckpoint.objects.filter(name=CHECKPOINT, covered_until__lt=reached).update(
            covered_until=reached, updated_at=timezone.now()
        )
    if report.recovered:
        logger.info(
            "Received SMS: %d message(s) found only in the history (a poll that stopped "
            "after the gateway answered, or messages that arrived meanwhile)",
            report.recovered,
        )
    return report
