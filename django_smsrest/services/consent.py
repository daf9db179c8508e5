"""The suppression list: :func:`suppress`, :func:`unsuppress`, :func:`is_suppressed`, the
CSV import and export the admin offers, and STOP replies (:func:`handle_stop_reply`, run
for every received SMS through the ``sms_received`` signal).

A suppressed number gets no *marketing* SMS: the send-time check is
:func:`django_smsrest.screening.screen` (a message queued before the opt-out is checked
again when it is sent). Transactional messages (codes, reminders, notices) still reach it.
Every new suppression fires :data:`django_smsrest.signals.opted_out` after commit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from django_smsrest import signals
from django_smsrest.conf import get_settings
from django_smsrest.conf_consent import fold
from django_smsrest.models import ReceivedSms, Suppression, SuppressionOrigin
from django_smsrest.outbox import on_commit, outbox_db
from django_smsrest.phone import InvalidPhoneNumber, normalize

__all__ = [
    "ImportReport",
    "export_csv",
    "handle_stop_reply",
    "import_csv",
    "is_stop_word",
    "is_suppressed",
    "on_sms_received",
    "suppress",
    "suppress_many",
    "unsuppress",
]

#: The reason, in the list, of a number that was imported without one.
MAX_REASON = 200
#: Columns of the export, and what the import reads (``phone_number`` is required).
CSV_COLUMNS = ("phone_number", "reason", "origin", "created_at")


def _number(number: str) -> str:
    """``number`` in E.164, or a ``ValidationError`` a person understands."""
    try:
        return normalize(number, get_settings().default_region)
    except (InvalidPhoneNumber, TypeError) as exc:
        raise ValidationError(
            _("“%(number)s” is not a phone number: %(error)s"),
            code="suppress_number",
            params={"number": str(number)[:40], "error": exc},
        ) from None


def suppress(
    number: str, *, reason: str = "", origin: str = SuppressionOrigin.LOCAL
) -> Suppression:
    """Put ``number`` on the suppression list (idempotent: a number already there keeps
    its first reason and origin). Raises ``ValidationError`` for a bad number."""
    rows, _created = suppress_many([number], reason=reason, origin=origin)
    return rows[0]


def suppress_many(
    numbers: Iterable[str],
    *,
    reason: str = "",
    origin: str = SuppressionOrigin.LOCAL,
    synced: bool = False,
) -> tuple[list[Suppression], list[str]]:
    """Suppress every one of ``numbers`` (each checked first: one bad number raises and
    nothing is written). Returns the rows (one per distinct number) and the numbers that
    were new. ``synced``: the gateway's blacklist is known to hold them (a pull)."""
    if origin not in SuppressionOrigin.values:
        raise ValueError(f"unknown suppression origin {origin!r}")
    origin = SuppressionOrigin(origin).value
    wanted = list(dict.fromkeys(_number(n) for n in numbers))
    if not wanted:
        return [], []
    from django.utils import timezone

    now = timezone.now()
    reason = str(reason)[:MAX_REASON]
    with transaction.atomic(using=outbox_db()):
        before = set(
            Suppression.objects.filter(phone_number__in=wanted).values_list(
                "phone_number", flat=True
            )
        )
        new = [n for n in wanted if n not in before]
        Suppression.objects.bulk_create(
            [
                Suppression(
                    phone_number=n,
                    reason=reason,
                    origin=origin,
                    synced_at=now if synced else None,
                )
                for n in new
            ],
            # Another process may insert the same number meanwhile: one row stays.
            ignore_conflicts=True,
            batch_size=500,
        )
        if synced:
            Suppression.objects.filter(phone_number__in=wanted, synced_at__isnull=True).update(
                synced_at=now
            )
        rows = {s.phone_number: s for s in Suppression.objects.filter(phone_number__in=wanted)}
        for n in new:
            on_commit(partial(_announce, n, origin, reason))
    return [rows[n] for n in wanted], new


def _announce(number: str, origin: str, reason: str) -> None:
    signals.opted_out.send_robust(sender=Suppression, number=number, origin=origin, reason=reason)


def unsuppress(number: str) -> bool:
    """Take ``number`` off the suppression list; ``True`` if it was there. The gateway's
    own blacklist is not changed (it documents no removal): a number also blacklisted
    there comes back with the next ``send_sms --sync-blacklist``."""
    deleted, _rows = Suppression.objects.filter(phone_number=_number(number)).delete()
    return bool(deleted)


def is_suppressed(number: str) -> bool:
    """Whether ``number`` (any format) is on the suppression list."""
    return Suppression.objects.filter(phone_number=_number(number)).exists()


# --- CSV --------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did: numbers added, already there, and the rows refused (line
    number and reason; nothing is written when any row is refused)."""

    added: int = 0
    existing: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_csv(data: bytes | str, *, origin: str = SuppressionOrigin.LOCAL) -> ImportReport:
    """Read a CSV with a ``phone_number`` column (and optionally ``reason``) and suppress
    every number, all or nothing: any bad row is reported and nothing is written. A file
    without a header is read as one number per line."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    report = ImportReport()
    rows = list(csv.reader(io.StringIO(text)))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if "phone_number" in header:
        at, why = (
            header.index("phone_number"),
            header.index("reason") if "reason" in header else None,
        )
        body = rows[1:]
        first_line = 2
    else:
        at, why, body, first_line = 0, None, rows, 1
    entries: list[tuple[str, str]] = []
    for line, row in enumerate(body, start=first_line):
        if not row or not any(cell.strip() for cell in row):
            continue
        raw = row[at].strip() if at < len(row) else ""
        try:
            number = _number(raw)
        except ValidationError as exc:
            report.errors.append((line, " ".join(exc.messages)))
            continue
        reason = row[why].strip() if why is not None and why < len(row) else ""
        entries.append((number, reason))
    if report.errors:
        return report
    by_reason: dict[str, list[str]] = {}
    for number, reason in entries:
        by_reason.setdefault(reason, []).append(number)
    with transaction.atomic(using=outbox_db()):
        seen: set[str] = set()
        for reason, numbers in by_reason.items():
            fresh = [n for n in numbers if n not in seen]
            seen.update(fresh)
            _rows, new = suppress_many(fresh, reason=reason, origin=origin)
            report.added += len(new)
            report.existing += len(fresh) - len(new)
    return report


def export_csv() -> Iterator[str]:
    """The suppression list as CSV lines (header first), oldest first, read in pages."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    yield out.getvalue()
    last = 0
    while True:
        page = list(
            Suppression.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", *CSV_COLUMNS)[:1000]
        )
        if not page:
            return
        out = io.StringIO()
        writer = csv.writer(out)
        for _pk, number, reason, origin, created in page:
            writer.writerow([number, _cell(reason), origin, created.isoformat()])
        yield out.getvalue()
        last = page[-1][0]


def _cell(text: str) -> str:
    """A free-text cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- STOP replies -----------------------------------------------------------------------


def is_stop_word(text: str, stop_words: Iterable[str] | None = None) -> bool:
    """Whether ``text`` is one of ``stop_words`` (default ``SMSREST["STOP_WORDS"]``), case,
    accents and surrounding punctuation ignored: ``"Stop"``, ``" cancellà!"``."""
    words = get_settings().stop_words if stop_words is None else tuple(map(fold, stop_words))
    return fold(text) in words


def handle_stop_reply(received: ReceivedSms) -> Suppression | None:
    """If the received SMS is a stop word, suppress its sender (origin ``STOP_REPLY``;
    the ``opted_out`` signal fires when the number is new) and return the row; ``None``
    otherwise, or when the sender is not a phone number (an alias cannot opt out)."""
    if not is_stop_word(received.text):
        return None
    number = received.sender.strip()
    if number.isdigit():  # some gateways drop the "+"
        number = "+" + number
    try:
        number = normalize(number, get_settings().default_region)
    except (InvalidPhoneNumber, TypeError):
        return None
    reason = _("STOP reply “%(text)s” (received SMS %(id)s)") % {
        "text": received.text.strip()[:40],
        "id": received.gateway_id,
    }
    return suppress(number, reason=str(reason), origin=SuppressionOrigin.STOP_REPLY)


def on_sms_received(sender: Any, message: ReceivedSms, **kwargs: Any) -> None:
    """The ``sms_received`` receiver (connected by the app config): STOP replies, once
    per received SMS stored, after its transaction committed."""
    handle_stop_reply(message)
