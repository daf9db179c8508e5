"""What the Django-side steps of the benchmark share: set-up, the schema, bulk rows, query
counting and peak memory. Imported by :mod:`bench.phases` and by the parts that measure in
one process (:mod:`bench.bulk`), after ``DJANGO_SETTINGS_MODULE`` is set.
"""

from __future__ import annotations

import os
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import recipient

# Statuses after which a message needs no worker to send it (delivery polling may follow).
NOT_FINAL = ("queued", "sending", "unknown")


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()


def maxrss_mb() -> float:
    """The peak resident set of this process, in MB.

    On Linux ``VmHWM`` (``/proc/self/status``): the peak of this process's own memory.
    Not ``ru_maxrss``, which Linux carries across ``execve`` from the process that forked
    us: every phase then reported at least the driver's RSS at the time it started the
    phase (seen: the same 138.5 MB for a flush of 1,000 messages and one of 100,000, and a
    peak that only grew from one sweep cell to the next)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    # Elsewhere ru_maxrss (kilobytes on Linux, bytes on macOS).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class QueryCounter:
    """A ``connection.execute_wrapper`` that counts statements by verb and keeps the slowest
    ``keep`` of them. Constant memory, unlike ``CaptureQueriesContext`` (whose log is a
    deque capped at 9,000 entries and would itself grow with N)."""

    def __init__(self, keep: int = 0) -> None:
        self.total = 0
        self.by_verb: Counter[str] = Counter()
        self.keep = keep
        self.slowest: list[tuple[float, str]] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.total += 1
        self.by_verb[sql.lstrip().split(None, 1)[0].upper()] += 1
        if not self.keep:
            return execute(sql, params, many, context)
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            self.slowest.append((elapsed, sql))
            self.slowest.sort(key=lambda item: -item[0])
            del self.slowest[self.keep :]


@contextmanager
def counting(keep: int = 0) -> Iterator[QueryCounter]:
    from django.db import connection

    counter = QueryCounter(keep)
    with connection.execute_wrapper(counter):
        yield counter


def _app_models() -> list[Any]:
    from django_smsrest.models import SmsMessage, SmsOrder, SmsRecipient

    return [SmsMessage, SmsOrder, SmsRecipient]


def ensure_schema() -> str:
    """Run the migrations; if the app has none yet, create its tables directly."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    existing = set(connection.introspection.table_names())
    missing = [m for m in _app_models() if m._meta.db_table not in existing]
    if not missing:
        return "migrations"
    with connection.schema_editor() as editor:
        for model in missing:
            editor.create_model(model)
    return "schema_editor (the app has no migration for these tables yet)"


def clear_tables() -> None:
    from django.db import connection

    tables = [m._meta.db_table for m in reversed(_app_models())]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
            cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")


def bulk_create_messages(
    n: int,
    *,
    start: int = 0,
    batch: int = 1000,
    statuses: tuple[str, ...] = ("queued",),
) -> None:
    """Insert ``n`` one-recipient messages the way ``services`` stores them (message, one
    order carrying the message's own order_id, one recipient), ``batch`` at a time so the
    creating process stays small."""
    from django.db import transaction
    from django.utils import timezone

    from django_smsrest.conf import get_settings
    from django_smsrest.models import SmsMessage, SmsOrder, SmsRecipient

    conf = get_settings()
    now = timezone.now()
    for offset in range(start, start + n, batch):
        indexes = range(offset, min(offset + batch, start + n))
        messages = []
        for i in indexes:
            status = statuses[i % len(statuses)]
            sent = status not in NOT_FINAL and status != "cancelled"
            messages.append(
                SmsMessage(
                    message=f"Benchmark message {i}: your code is {i % 10000:04d}.",
                    message_type=conf.default_message_type,
                    encoding="gsm",
                    segments=1,
                    recipient_count=1,
                    status=status,
                    total_sent=1 if sent else None,
                    sent_at=now if sent else None,
                )
            )
        with transaction.atomic():
            SmsMessage.objects.bulk_create(messages)
            orders = SmsOrder.objects.bulk_create(
                [SmsOrder(message=m, index=0, order_id=m.order_id) for m in messages]
            )
            SmsRecipient.objects.bulk_create(
                [
                    SmsRecipient(message=m, order=o, phone_number=recipient(i))
                    for i, m, o in zip(indexes, messages, orders, strict=True)
                ]
            )
