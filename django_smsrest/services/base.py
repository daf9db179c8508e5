"""What every service shares: the state error, the logger, and walking the queue by
primary key in pages."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from django_smsrest.models import SmsMessage
from django_smsrest.outbox import (
    outbox_db,
)

logger = logging.getLogger("django_smsrest")

#: Rows fetched per query when walking the queue (memory stays flat on any queue size).
CHUNK_SIZE = 500
#: Recipient rows per INSERT / UPDATE statement.
BATCH_SIZE = 500


class SmsStateError(ValidationError):
    """The operation does not apply to the message in its current state (cancel a sent
    message, resend one still in flight...). ``str()``/``messages`` explain why, for a
    person; it is a ``ValidationError`` so forms and admin actions can show it as is."""


# --- helpers ------------------------------------------------------------------------------


def as_message(message: SmsMessage | int) -> SmsMessage:
    if isinstance(message, SmsMessage):
        return message
    return SmsMessage.objects.get(pk=message)


def in_user_atomic() -> bool:
    """True inside an ``atomic()`` block of the caller; the blocks a test case wraps around
    each test do not count.

    Django's public rule for ``durable=True`` says exactly that: a durable block cannot be
    nested in another atomic block, except in those a ``TestCase`` opens. So, when a
    transaction is open, this enters a durable block that makes no savepoint (no SQL, no
    side effect) and reports whether Django refused it."""
    db = outbox_db()
    if transaction.get_autocommit(using=db):
        return False  # no transaction open at all (the common case): nothing to probe
    try:
        with transaction.atomic(using=db, savepoint=False, durable=True):
            pass
    except RuntimeError:  # "A durable atomic block cannot be nested within another..."
        return True
    return False


def id_pages(queryset: QuerySet[SmsMessage], limit: int | None) -> Iterator[list[int]]:
    """Primary keys of ``queryset`` in ascending order, ``CHUNK_SIZE`` per page, by keyset
    pagination (at most ``limit`` in all). Unlike ``.iterator()`` this holds no cursor open
    while the caller writes (SQLite gives no isolation between a cursor and writes on the
    same connection; PostgreSQL would keep a server-side cursor open across HTTP calls)."""
    last = 0
    given = 0
    while True:
        size = CHUNK_SIZE if limit is None else min(CHUNK_SIZE, limit - given)
        if size <= 0:
            return
        page = list(
            queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size]
        )
        if not page:
            return
        given += len(page)
        yield page
        last = page[-1]


def pages(queryset: QuerySet[SmsMessage], limit: int | None) -> Iterator[int]:
    """The primary keys of :func:`id_pages`, one at a time."""
    for page in id_pages(queryset, limit):
        yield from page
