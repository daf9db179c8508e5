#!/usr/bin/env python
"""``queue_many`` against ``queue_sms``, side by side in one run.

    python bench/bulk.py [--n 5000] [--batch-size 500] [--db sqlite|postgres]

Queues N one-recipient messages with ``queue_sms`` (one call each), empties the tables,
then queues the same N with one ``queue_many`` call, in the same process against the same
database (a fresh SQLite file in WAL mode by default; the task backend records hints and
runs nothing, so only the queueing is measured), and prints the time and queries per
message of each and their ratio. Target (issue 20 item 8): ``queue_many`` takes at least
10 x less time per message. Nothing is asserted. Also the part ``bulk`` of
``bench/bench.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # ``python bench/bulk.py``: import the package, not this file
    ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench.common import recipient


def _text(i: int) -> str:
    return f"Benchmark message {i}: your code is {i % 10000:04d}."


def measure(n: int, batch_size: int = 500) -> dict[str, Any]:
    """Seconds and queries for ``n`` messages through each API (Django set up, tables
    created: see :mod:`bench.db`)."""
    from django.db import connection

    from bench.db import clear_tables, counting
    from django_smsrest import queue_many, queue_sms
    from django_smsrest.models import SmsMessage

    items = [(_text(i), [recipient(i)]) for i in range(n)]
    clear_tables()
    with counting() as single_q:
        start = time.perf_counter()
        for message, recipients in items:
            queue_sms(message, recipients)
        single_s = time.perf_counter() - start
    assert SmsMessage.objects.count() == n
    clear_tables()
    with counting() as many_q:
        start = time.perf_counter()
        created = queue_many(items, batch_size=batch_size)
        many_s = time.perf_counter() - start
    assert len(created) == n == SmsMessage.objects.count()
    clear_tables()
    return {
        "n": n,
        "vendor": connection.vendor,
        "batch_size": batch_size,
        "queue_sms_seconds": single_s,
        "queue_sms_ms_per_msg": 1000 * single_s / n,
        "queue_sms_queries_per_msg": single_q.total / n,
        "queue_many_seconds": many_s,
        "queue_many_ms_per_msg": 1000 * many_s / n,
        "queue_many_queries_per_msg": many_q.total / n,
        "ratio": single_s / many_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="messages (default 5000)")
    parser.add_argument("--batch-size", type=int, default=500, help="queue_many batch size")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args(argv)
    work_dir = tempfile.mkdtemp(prefix="smsrest-bulk-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ["SMSREST_BENCH_DB"] = args.db
    os.environ.setdefault("SMSREST_BENCH_SQLITE", os.path.join(work_dir, "bulk.sqlite3"))
    os.environ.setdefault("SMSREST_BENCH_TASKS", "dummy")
    import django

    django.setup()
    from bench.db import ensure_schema

    ensure_schema()
    from bench.report import render_bulk, render_part

    print(render_part(render_bulk, measure(args.n, args.batch_size)))
    for path in Path(work_dir).glob("bulk.sqlite3*"):
        path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
