"""A worker process for the multi-process reliability tests (not a test module).

Run from the repository root with ``DJANGO_SETTINGS_MODULE=tests.worker_settings`` (see
that module for the environment it reads)::

    python -m tests.reliability_worker seed 1000       # queue 1000 messages
    python -m tests.reliability_worker work --deadline 120
    python -m tests.reliability_worker report          # JSON on stdout
    python -m tests.reliability_worker expire          # SENDING leases are over now

``work`` is what a deployment runs: ``manage.py send_sms --flush`` then
``manage.py send_sms --sweep`` (through ``call_command``, in one process so the keep-alive
HTTP session and the login are reused, as a long-lived worker would), again and again until
no message is QUEUED, SENDING or UNKNOWN any more, or the deadline passes (exit status 3).
It prints one JSON line with what it did: loops, flush/sweep exit codes, its client's HTTP
request counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from typing import Any

#: Messages that are not finished from the outbox's point of view.
OPEN_STATUSES = ("queued", "sending", "unknown")


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.worker_settings")
    import django

    django.setup()


def seed(count: int, max_recipients: int) -> dict[str, Any]:
    """Queue ``count`` messages with 1..``max_recipients`` recipients each (all unique
    numbers), in one transaction. Returns counts."""
    from django.db import transaction

    from django_smsrest import services

    number = 3_470_000_100
    with transaction.atomic():
        for i in range(count):
            recipients = []
            for _ in range(1 + i % max_recipients):
                number += 1
                recipients.append(f"+39{number}")
            services.queue_sms(f"Reliability message {i}", recipients)
    return report()


def work(deadline: float, pause: float) -> int:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from django_smsrest.backends.rest import get_client
    from django_smsrest.conf import get_settings
    from django_smsrest.models import SmsMessage

    codes: Counter[str] = Counter()
    loops = 0
    end = time.monotonic() + deadline
    status = 3
    while time.monotonic() < end:
        loops += 1
        for mode in ("--flush", "--sweep"):
            try:
                call_command("send_sms", mode, "--quiet")
                codes[f"{mode} 0"] += 1
            except CommandError as exc:
                codes[f"{mode} {exc.returncode}"] += 1
        if not SmsMessage.objects.filter(status__in=OPEN_STATUSES).exists():
            status = 0
            break
        time.sleep(pause)
    stats = get_client(get_settings()).stats.snapshot()
    print(json.dumps({"pid": os.getpid(), "loops": loops, "codes": codes, "client": stats}))
    return status


def report() -> dict[str, Any]:
    """The database's view of the run: statuses, every order id, the failures."""
    from django.db.models import Count, F, Sum

    from django_smsrest.models import SmsMessage, SmsOrder, SmsRecipient

    statuses = dict(SmsMessage.objects.values_list("status").annotate(n=Count("id")).order_by())
    orders = list(SmsOrder.objects.values_list("order_id", "status"))
    attempts = dict(SmsMessage.objects.values_list("attempts").annotate(n=Count("id")).order_by())
    return {
        "messages": SmsMessage.objects.count(),
        "recipients": SmsRecipient.objects.count(),
        "statuses": statuses,
        "orders": orders,
        "attempts": {str(k): v for k, v in attempts.items()},
        "total_sent": sum(
            SmsMessage.objects.exclude(total_sent=None).values_list("total_sent", flat=True)
        ),
        # A message's aggregate must agree with its orders (no half-written progress).
        "total_sent_mismatch": list(
            SmsMessage.objects.annotate(orders_sent=Sum("orders__total_sent"))
            .exclude(total_sent=F("orders_sent"))
            .values("pk", "status", "total_sent", "orders_sent")[:20]
        ),
        "problems": list(
            SmsMessage.objects.exclude(status="sent").values("pk", "status", "last_error")[:20]
        ),
        "orders_not_accepted": list(
            SmsOrder.objects.exclude(status="accepted").values(
                "message_id", "index", "status", "message__status", "message__last_error"
            )[:20]
        ),
    }


def expire() -> dict[str, Any]:
    """Time passes for a dead worker: the leases of the SENDING rows are over now (a send's
    lease covers the worst case of a send, minutes with a long read timeout; a test does
    not wait that long)."""
    from datetime import timedelta

    from django.utils import timezone

    from django_smsrest.models import SmsMessage

    past = timezone.now() - timedelta(seconds=1)
    return {"expired": SmsMessage.objects.filter(status="sending").update(lease_until=past)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="reliability_worker")
    sub = parser.add_subparsers(dest="command", required=True)
    p_seed = sub.add_parser("seed")
    p_seed.add_argument("count", type=int)
    p_seed.add_argument("--max-recipients", type=int, default=3)
    p_work = sub.add_parser("work")
    p_work.add_argument("--deadline", type=float, default=120.0)
    p_work.add_argument("--pause", type=float, default=0.05)
    sub.add_parser("report")
    sub.add_parser("expire")
    p_enqueue = sub.add_parser("enqueue-flush")  # on the configured task backend (RQ)
    p_enqueue.add_argument("count", type=int)
    args = parser.parse_args(argv)
    _setup()
    if args.command == "seed":
        print(json.dumps(seed(args.count, args.max_recipients)))
        return 0
    if args.command == "work":
        return work(args.deadline, args.pause)
    if args.command == "expire":
        print(json.dumps(expire()))
        return 0
    if args.command == "enqueue-flush":
        from django_smsrest import dispatch

        for _ in range(args.count):
            dispatch.enqueue("django_smsrest.tasks.flush_queue_task")
        print(json.dumps({"enqueued": args.count}))
        return 0
    print(json.dumps(report()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
