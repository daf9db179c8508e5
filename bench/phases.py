"""The Django side of the benchmark: ``python -m bench.phases PHASE '{json params}'``.

Each phase runs in its own process (started by ``bench/bench.py``), configures Django from
``DJANGO_SETTINGS_MODULE`` (``bench.settings`` or ``bench.rq_settings``) and the
``SMSREST_BENCH_*`` environment, does one thing and prints one result line
(:func:`bench.common.emit`). One process per phase keeps ``ru_maxrss`` meaningful (it is a
lifetime peak) and lets the driver switch databases between phases.

Phases: ``schema`` (create the tables, empty them), ``reset`` (empty them), ``create``
(N queued messages), ``flush`` (the measured ``services.flush_queue``), ``flush-worker``
(one of several concurrent flushers: waits for ``GO`` on stdin), ``big`` (one message to
10,000 recipients), ``verify`` (the exactly-once invariant against the sandbox),
``admin`` (changelist rendering on a large table), ``rq-queue`` (queue N messages whose
tasks run on RQ workers, wait until all are final).
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench.common import emit, recipient, sandbox_call
from bench.db import (
    NOT_FINAL,
    bulk_create_messages,
    clear_tables,
    counting,
    ensure_schema,
    maxrss_mb,
    setup,
)

# --- schema and data ---------------------------------------------------------------------


# --- phases ------------------------------------------------------------------------------


def phase_schema(params: dict[str, Any]) -> dict[str, Any]:
    how = ensure_schema()
    clear_tables()
    from django.db import connection

    return {"schema": how, "vendor": connection.vendor}


def phase_reset(params: dict[str, Any]) -> dict[str, Any]:
    clear_tables()
    return {}


def phase_create(params: dict[str, Any]) -> dict[str, Any]:
    """``n`` queued messages: the first ``via_queue_sms`` through ``services.queue_sms``
    (timed, queries counted: the cost of the public API), the rest bulk-inserted."""
    from django_smsrest import services

    n = int(params["n"])
    via_api = min(n, int(params.get("via_queue_sms", 0)))
    result: dict[str, Any] = {"n": n, "via_queue_sms": via_api}
    if via_api:
        with counting() as counter:
            start = time.perf_counter()
            for i in range(via_api):
                services.queue_sms(f"Benchmark message {i}: your code is {i:04d}.", recipient(i))
            elapsed = time.perf_counter() - start
        result["queue_sms_per_s"] = via_api / elapsed
        result["queue_sms_queries_per_msg"] = counter.total / via_api
        result["queue_sms_by_verb"] = dict(counter.by_verb)
    start = time.perf_counter()
    bulk_create_messages(n - via_api, start=via_api)
    result["bulk_seconds"] = time.perf_counter() - start
    return result


def phase_flush(params: dict[str, Any]) -> dict[str, Any]:
    """The measured run: ``services.flush_queue()`` over everything queued."""
    from django.db import connection

    from django_smsrest import services
    from django_smsrest.backends.rest import get_client
    from django_smsrest.conf import get_settings
    from django_smsrest.models import SmsMessage

    connection.ensure_connection()
    n = SmsMessage.objects.filter(status="queued").count()
    rss_before = maxrss_mb()
    trace = bool(params.get("trace"))
    profiler = cProfile.Profile() if params.get("profile") else None
    if trace:
        tracemalloc.start()
    with counting() as counter:
        if profiler:
            profiler.enable()
        start = time.perf_counter()
        report = services.flush_queue()
        elapsed = time.perf_counter() - start
        if profiler:
            profiler.disable()
    result: dict[str, Any] = {
        "n": n,
        "seconds": elapsed,
        "per_s": n / elapsed if elapsed else 0.0,
        "queries": counter.total,
        "queries_per_msg": counter.total / n if n else 0.0,
        "by_verb": dict(counter.by_verb),
        "by_status": dict(report.by_status),
        "skipped": report.skipped,
        "errors": report.errors,
        "rss_before_mb": rss_before,
        "rss_peak_mb": maxrss_mb(),
        "client": get_client(get_settings()).stats.snapshot(),
        "vendor": connection.vendor,
    }
    if trace:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    if profiler:
        path = str(params["profile"])
        profiler.dump_stats(path)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        result["profile_path"] = path
        result["profile_top"] = text.getvalue()
    return result


def phase_flush_worker(params: dict[str, Any]) -> dict[str, Any]:
    """One of several concurrent flushers. Sets everything up, prints ``READY``, waits for
    a line on stdin, then flushes; the driver lines the workers up so that start-up (Django,
    imports, the database connection) is not part of the measured time."""
    from django.db import connection

    from django_smsrest import services
    from django_smsrest.backends.rest import get_client
    from django_smsrest.conf import get_settings

    connection.ensure_connection()
    print("READY", flush=True)
    sys.stdin.readline()
    start = time.time()
    report = services.flush_queue()
    end = time.time()
    return {
        "start": start,
        "end": end,
        "by_status": dict(report.by_status),
        "skipped": report.skipped,
        "errors": report.errors,
        "client": get_client(get_settings()).stats.snapshot(),
    }


def phase_big(params: dict[str, Any]) -> dict[str, Any]:
    """One message to ``recipients`` numbers, queued through the public API, then sent."""
    from django_smsrest import services
    from django_smsrest.conf import get_settings
    from django_smsrest.models import SmsOrder

    count = int(params.get("recipients", 10_000))
    numbers = [recipient(i) for i in range(count)]
    with counting() as create_counter:
        start = time.perf_counter()
        msg = services.queue_sms("One text to many: the benchmark's broadcast.", numbers)
        create_seconds = time.perf_counter() - start
    sandbox_call(params["base_url"], "reset", {})
    with counting() as send_counter:
        start = time.perf_counter()
        sent = services.send_message(msg.pk)
        send_seconds = time.perf_counter() - start
    return {
        "recipients": count,
        "max_recipients_per_order": get_settings().max_recipients_per_order,
        "orders_in_db": SmsOrder.objects.filter(message_id=msg.pk).count(),
        "status": None if sent is None else str(sent.status),
        "create_seconds": create_seconds,
        "create_queries": create_counter.total,
        "send_seconds": send_seconds,
        "send_queries": send_counter.total,
        "send_by_verb": dict(send_counter.by_verb),
    }


def phase_verify(params: dict[str, Any]) -> dict[str, Any]:
    """The exactly-once invariant: every order in the database was POSTed exactly once
    (sandbox ``post_counts``), no POST carried an order id the database does not know, and
    every message is in a state that needs no more sending."""
    from django.db.models import Count

    from django_smsrest.models import SmsMessage, SmsOrder

    snap = sandbox_call(params["base_url"], "orders")
    posts: dict[str, int] = snap["post_counts"]
    order_ids = set(SmsOrder.objects.values_list("order_id", flat=True))
    once = sum(1 for oid in order_ids if posts.get(oid, 0) == 1)
    twice = sum(1 for oid in order_ids if posts.get(oid, 0) > 1)
    never = sum(1 for oid in order_ids if posts.get(oid, 0) == 0)
    unknown = sum(1 for oid in posts if oid not in order_ids)
    statuses = dict(
        SmsMessage.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    not_final = sum(statuses.get(s, 0) for s in NOT_FINAL)
    return {
        "orders": len(order_ids),
        "posted_once": once,
        "posted_more_than_once": twice,
        "never_posted": never,
        "posts_for_unknown_orders": unknown,
        "posts_total": snap["posts_total"],
        "statuses": statuses,
        "not_final": not_final,
        "ok": twice == 0 and never == 0 and unknown == 0 and not_final == 0,
    }


def phase_admin(params: dict[str, Any]) -> dict[str, Any]:
    """Render the SmsMessage changelist on a table of ``rows`` messages (page 1, the last
    page, an exact order-id search, a phone-number search) as a superuser."""
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from django_smsrest.models import SmsMessage

    setup_test_environment()  # the test client's response.context, and ALLOWED_HOSTS
    rows = int(params["rows"])
    result: dict[str, Any] = {"rows": rows}
    model_admin = admin.site._registry.get(SmsMessage)
    if model_admin is None:
        return {**result, "error": "SmsMessage is not registered in the admin"}
    clear_tables()
    start = time.perf_counter()
    bulk_create_messages(
        rows, batch=5000, statuses=("sent", "delivered", "queued", "failed", "sent", "delivered")
    )
    result["create_seconds"] = time.perf_counter() - start
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    user_model = get_user_model()
    user = user_model.objects.filter(username="bench-admin").first()
    if user is None:
        user = user_model.objects.create_superuser("bench-admin", "", "bench-admin")
    client = Client()
    client.force_login(user)
    url = "/admin/django_smsrest/smsmessage/"
    per_page = int(model_admin.list_per_page)
    last_page = max(1, -(-rows // per_page))
    middle = SmsMessage.objects.order_by("pk").values_list("order_id", flat=True)[rows // 2]
    number = recipient(rows // 2)
    cases = {
        "page 1": {},
        f"page {last_page} (last)": {"p": last_page},
        "search exact order_id": {"q": middle},
        "search phone number": {"q": number},
    }
    client.get(url)  # warm up: templates, translations, the admin's caches
    pages: dict[str, Any] = {}
    for label, query in cases.items():
        with counting(keep=2) as counter:
            start = time.perf_counter()
            response = client.get(url, query)
            elapsed = time.perf_counter() - start
        shown = None
        if response.context is not None and "cl" in response.context:
            shown = len(response.context["cl"].result_list)
        pages[label] = {
            "status": response.status_code,
            "ms": elapsed * 1000,
            "queries": counter.total,
            "rows_shown": shown,
            "slowest_sql": [
                {"ms": round(t * 1000, 1), "sql": sql[:400]} for t, sql in counter.slowest
            ],
        }
    result["per_page"] = per_page
    result["pages"] = pages
    result["vendor"] = connection.vendor
    return result


def phase_rq_queue(params: dict[str, Any]) -> dict[str, Any]:
    """Queue ``n`` messages through ``services.queue_sms`` (each enqueues
    ``send_message_task`` on commit, on the RQ backend), then wait until none is left to
    send. The clock runs from the first enqueue to the last final status."""
    from django_smsrest import services
    from django_smsrest.models import SmsMessage

    n = int(params["n"])
    timeout = float(params.get("timeout", 120))
    start = time.perf_counter()
    for i in range(n):
        services.queue_sms(f"Benchmark message {i}: your code is {i:04d}.", recipient(i))
    enqueued = time.perf_counter() - start
    deadline = start + timeout
    pending = n
    while time.perf_counter() < deadline:
        pending = SmsMessage.objects.filter(status__in=NOT_FINAL).count()
        if pending == 0:
            break
        time.sleep(0.05)
    done = time.perf_counter() - start
    return {
        "n": n,
        "enqueue_seconds": enqueued,
        "seconds": done,
        "per_s": n / done,
        "pending_at_end": pending,
        "timed_out": pending != 0,
    }


def phase_rq_clean(params: dict[str, Any]) -> dict[str, Any]:
    """Empty the benchmark's own RQ queue (leftovers of an interrupted run)."""
    import django_rq
    from django.conf import settings

    queue = django_rq.get_queue(settings.RQ_QUEUE)
    return {"queue": queue.name, "removed": queue.empty()}


def phase_bulk(params: dict[str, Any]) -> dict[str, Any]:
    """``queue_sms`` and ``queue_many`` side by side (:mod:`bench.bulk`)."""
    from bench.bulk import measure

    return measure(int(params.get("n", 5000)), int(params.get("batch_size", 500)))


def phase_validation(params: dict[str, Any]) -> dict[str, Any]:
    """Personalised recipients against plain numbers (:mod:`bench.validation`)."""
    from bench.validation import measure

    return measure(int(params.get("n", 80_000)), int(params.get("repeat", 3)))


PHASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "schema": phase_schema,
    "reset": phase_reset,
    "create": phase_create,
    "flush": phase_flush,
    "flush-worker": phase_flush_worker,
    "big": phase_big,
    "verify": phase_verify,
    "admin": phase_admin,
    "rq-queue": phase_rq_queue,
    "rq-clean": phase_rq_clean,
    "bulk": phase_bulk,
    "validation": phase_validation,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in PHASES:
        print(f"usage: python -m bench.phases {{{','.join(PHASES)}}} [JSON]", file=sys.stderr)
        return 2
    params = json.loads(argv[1]) if len(argv) > 1 else {}
    setup()
    emit(PHASES[argv[0]](params))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
