"""The account's lists at the gateway: the blacklist, synced both ways with the
suppression list, and the sender aliases (:func:`list_aliases`).

:func:`sync_blacklist`
(``send_sms --sync-blacklist``, and the sweep when ``SMSREST["SYNC_BLACKLIST"]``), and
:func:`note_blacklisted` (a ``BLACKLISTED`` delivery state suppresses the number).

* **Pull**: ``GET blacklist/sms`` page by page (every origin: ``API``, ``WEB``,
  ``STOPSMS``) into :class:`~django_smsrest.models.Suppression`, the gateway's origin
  kept; a number already on the list keeps its row. Resumable: after each page the
  checkpoint (:class:`~django_smsrest.models.BlacklistCheckpoint`) moves to the newest
  entry stored, and the next pull asks from :data:`OVERLAP` before it. When the gateway
  gives no dates, every pull reads the whole list (still idempotent).
* **Push**: the local suppressions the gateway does not have yet (``synced_at`` empty),
  :data:`PUSH_BATCH` at a time with ``POST blacklist/smsbatch``; each batch is marked
  synced once the gateway accepted it, so an interrupted push resumes where it stopped
  (a repeated number is harmless). The batch is all or nothing at the gateway: when it is
  refused, its numbers go one by one (``POST blacklist/sms``) and the ones refused are
  reported and tried again next time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from django_smsrest.backends import BaseBackend, get_backend
from django_smsrest.client.aliases import Alias
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import GatewayRejected
from django_smsrest.models import BlacklistCheckpoint, SmsRecipient, Suppression, SuppressionOrigin
from django_smsrest.phone import InvalidPhoneNumber, normalize
from django_smsrest.results import DeliveryState
from django_smsrest.services.base import logger
from django_smsrest.services.consent import suppress_many

__all__ = ["SyncReport", "list_aliases", "note_blacklisted", "sync_blacklist"]

#: Entries asked per ``GET blacklist/sms`` page.
PAGE_SIZE = 500
#: Numbers per ``POST blacklist/smsbatch``.
PUSH_BATCH = 500
#: How far before the checkpoint a pull starts again (clocks, entries landing late).
OVERLAP = timedelta(minutes=10)
#: A pull stops after this many pages (a runaway answer that never ends); the next one
#: resumes from the checkpoint.
MAX_PAGES = 1000
CHECKPOINT = "default"

_ORIGINS = {o: o for o in ("API", "WEB", "STOPSMS")}


@dataclass
class SyncReport:
    """What a sync did: entries read from the gateway, numbers new to the local list,
    numbers pushed to the gateway, numbers it refused (E.164)."""

    pulled: int = 0
    added: int = 0
    pushed: int = 0
    refused: list[str] = field(default_factory=list)
    pages: int = 0


def sync_blacklist(*, pull: bool = True, push: bool = True) -> SyncReport:
    """Pull the gateway's blacklist into the suppression list, then push the local
    suppressions it lacks. Raises ``UnsupportedOperation`` when the backend has no
    blacklist, and the gateway's errors (what was done before stays done)."""
    conf = get_settings()
    backend = get_backend(conf)
    if not backend.supports_blacklist:
        backend.get_blacklist(page=1, page_size=1, since=None)  # raises, naming the flag
    report = SyncReport()
    if pull:
        _pull(backend, conf.default_region, report)
    if push:
        _push(backend, report)
    return report


def _pull(backend: BaseBackend, region: str | None, report: SyncReport) -> None:
    mark = BlacklistCheckpoint.objects.filter(name=CHECKPOINT).first()
    since = mark.pulled_until - OVERLAP if mark is not None else None
    newest: datetime | None = None
    page = 1
    while page <= MAX_PAGES:
        answer = backend.get_blacklist(page=page, page_size=PAGE_SIZE, since=since)
        report.pages += 1
        by_origin: dict[str, list[str]] = {}
        for entry in answer.entries:
            raw = entry.number if entry.number.startswith(("+", "00")) else "+" + entry.number
            try:
                number = normalize(raw, region)
            except (InvalidPhoneNumber, ValueError):
                logger.warning("Blacklist: unreadable number %r skipped", entry.number[:20])
                continue
            origin = _ORIGINS.get(entry.origin, SuppressionOrigin.API)
            by_origin.setdefault(origin, []).append(number)
            if entry.added_at is not None and (newest is None or entry.added_at > newest):
                newest = entry.added_at
        report.pulled += len(answer.entries)
        for origin, numbers in by_origin.items():
            _rows, new = suppress_many(
                numbers, reason="gateway blacklist", origin=origin, synced=True
            )
            report.added += len(new)
        if newest is not None:
            _checkpoint(newest)
        if len(answer.entries) < PAGE_SIZE or (
            answer.total is not None and page * PAGE_SIZE >= answer.total
        ):
            return
        page += 1


def _checkpoint(when: datetime) -> None:
    mark, created = BlacklistCheckpoint.objects.get_or_create(
        name=CHECKPOINT, defaults={"pulled_until": when}
    )
    if not created and when > mark.pulled_until:
        BlacklistCheckpoint.objects.filter(name=CHECKPOINT, pulled_until__lt=when).update(
            pulled_until=when
        )


def _push(backend: BaseBackend, report: SyncReport) -> None:
    last = 0
    while True:
        batch = list(
            Suppression.objects.filter(synced_at__isnull=True, pk__gt=last)
            .order_by("pk")
            .values_list("pk", "phone_number")[:PUSH_BATCH]
        )
        if not batch:
            return
        last = batch[-1][0]
        numbers = [number for _pk, number in batch]
        try:
            backend.add_to_blacklist(numbers)
            done = numbers
        except GatewayRejected:
            if len(numbers) == 1:
                report.refused += numbers
                continue
            done = []
            for number in numbers:  # all or nothing refused: find the bad ones
                try:
                    backend.add_to_blacklist([number])
                    done.append(number)
                except GatewayRejected:
                    report.refused.append(number)
        Suppression.objects.filter(phone_number__in=done, synced_at__isnull=True).update(
            synced_at=timezone.now()
        )
        report.pushed += len(done)


def note_blacklisted(rows: list[SmsRecipient]) -> None:
    """Suppress the numbers of ``rows`` whose delivery state became ``BLACKLISTED``
    (the gateway refused them because they opted out): they get no more marketing."""
    numbers = [r.phone_number for r in rows if r.state == DeliveryState.BLACKLISTED]
    if numbers:
        suppress_many(
            numbers,
            reason="delivery state BLACKLISTED",
            origin=SuppressionOrigin.DELIVERY,
        )


# --- sender aliases -----------------------------------------------------------------------

#: Pages of ``GET alias`` read at most (an account has a handful of aliases).
ALIAS_PAGES = 20


def list_aliases() -> list[Alias]:
    """Every sender alias of the account (``GET alias``, page by page), in the gateway's
    order. Raises ``UnsupportedOperation`` for a backend without ``supports_aliases``."""
    backend = get_backend(get_settings())
    found: list[Alias] = []
    for page in range(1, ALIAS_PAGES + 1):
        answer = backend.get_aliases(page=page, page_size=100)
        found += answer.aliases
        if len(answer.aliases) < 100 or (answer.total is not None and len(found) >= answer.total):
            break
    return found
