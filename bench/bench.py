#!/usr/bin/env python
"""Benchmarks of django-smsrest against its own sandbox gateway, over loopback.

    python bench/bench.py [--n 2000] [--latency-ms 0] [--workers 1,2,4,8] [--db sqlite|postgres]
                          [--quick] [--parts baselines,app,scale,big,latency,sweep,journal,
                          tls,concurrency,admin,rq,bulk,validation] [--tls] [--profile]
                          [--json results.json] (--help for sizes)

One run starts one sandbox (``python -m django_smsrest.sandbox --port 0``) and measures,
against it:

1. **Baseline A, the seed**: the provider's Python quick start, per message a login and a
   POST, each with plain ``requests.get``/``requests.post`` (a new connection each time).
2. **Baseline B, the floor**: one keep-alive ``requests.Session``, one login, the same
   POSTs in a loop, no database.
3. **The app**: N queued ``SmsMessage`` rows flushed by ``services.flush_queue()`` through
   the REST backend: messages/s, HTTP requests per message (counted by the sandbox), logins,
   DB queries per message, peak memory; then two sizes 5x apart with tracemalloc on, to
   show queries and memory per message flat in N; one message to 10,000 recipients.
4. **Latency**: A, B and the app again with the sandbox answering in 30-80 ms, where the
   seed's extra round trip per message shows (loopback has no TLS handshake to pay).
4a. **Latency x CONCURRENCY** (parts ``sweep`` and ``journal``, SQLite): sandbox latency
   0, 10, 40, 100 ms x ``SMSREST["CONCURRENCY"]`` 1, 4, 8, 16, one flushing process per
   cell: msg/s, x the single-connection floor, x the physical limit K/L, queries per
   message, logins, peak memory; then zero latency on SQLite WAL vs the rollback journal
   (see :mod:`bench.sweep`).
4b. **Over TLS** (part ``tls``): A, B and the app again against a second sandbox serving
   HTTPS with a throwaway self-signed certificate, at zero latency and at 30-80 ms. The
   real gateway is HTTPS, so the seed's new connection per request pays a TCP + TLS
   handshake and, as ``verify=True`` does with requests, loads a whole CA bundle (here
   certifi's bundle plus the sandbox's certificate: ``--tls-ca``); the floor and the app
   pay that once per kept-alive connection. Verification is never switched off. The
   sandbox's latency is added per request, not per handshake round trip, so over a real
   network the seed's handshakes would cost more than here. ``--tls`` runs every part
   over TLS instead. Needs ``openssl`` (or the ``cryptography`` package).
5. **Concurrency**: sandbox latency 30-80 ms, the same N messages flushed by 1, 2, 4, 8
   worker processes on one database (PostgreSQL when reachable), exactly-once checked.
6. **Admin**: the changelist on 100,000 messages (page 1, last page, searches).
7. **RQ**: django-tasks-rq with 2 ``rqworker`` processes (RQ's forking ``Worker`` and its
   ``SimpleWorker``), N messages queued through
   ``queue_sms`` (the task is enqueued on commit), until every message is final.

8. **Bulk** and **validation**: ``queue_many`` against ``queue_sms``
   (:mod:`bench.bulk`), 80,000 personalised recipients against plain numbers
   (:mod:`bench.validation`); each also runs on its own (``python bench/bulk.py``).

The parts live in modules by job, importing one way (``tests/test_bench_layers.py``):
this driver; :mod:`bench.app` and :mod:`bench.sweep` (the runs); :mod:`bench.processes`
(sandbox, phase runner) and :mod:`bench.baselines`; the Django side :mod:`bench.phases`
(one process per step) with :mod:`bench.bulk` and :mod:`bench.validation`; then
:mod:`bench.report` (the text report), :mod:`bench.db` and :mod:`bench.results`.

Every run is written to a results file (:mod:`bench.results`): ``bench/results/<date>-
<commit>.json``, or ``--json PATH``. ``python bench/readme.py`` builds the README's
Performance tables from one.

Targets are printed with PASS/MISS; nothing is asserted. Every Django-side step runs in
its own process (``python -m bench.phases``), so memory peaks are per step. Runs are
bounded: the default run takes about three minutes on a 2-core machine; ``--quick`` well
under one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# ``python bench/bench.py`` puts bench/ first on sys.path, where ``import bench`` would find
# this very file instead of the package: put the repository root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.app import run_app, run_comparison, run_concurrency, run_rq  # noqa: E402
from bench.baselines import baseline_floor, baseline_seed  # noqa: E402
from bench.processes import (  # noqa: E402
    Runner,
    Sandbox,
    counts_summary,
    django_version,
    postgres_status,
    redis_status,
    step,
    tls_material,
)
from bench.report import render  # noqa: E402
from bench.results import machine, postgresql_version, stamp, write  # noqa: E402
from bench.sweep import run_journal, run_rss, run_sweep  # noqa: E402
from django_smsrest.testing.sandbox import tls_unavailable_reason  # noqa: E402

PARTS = (
    "baselines",
    "app",
    "scale",
    "big",
    "latency",
    "sweep",
    "journal",
    "tls",
    "concurrency",
    "admin",
    "rq",
    "bulk",
    "validation",
)
BIG_RECIPIENTS = 10_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=None, help="messages per run (default 2000; --quick 300)"
    )
    parser.add_argument(
        "--latency-ms",
        default="0",
        help="sandbox latency for the baselines and the app run: MS or MIN-MAX (default 0)",
    )
    parser.add_argument(
        "--workers",
        default=None,
        help="worker processes for the concurrency run (default 1,2,4,8; --quick 1,2,4)",
    )
    parser.add_argument(
        "--concurrency-n",
        type=int,
        default=None,
        help="messages in each concurrency run (default 150; --quick 60)",
    )
    parser.add_argument(
        "--latency-n",
        type=int,
        default=None,
        help="messages in the seed/floor/app comparison under latency (default 60; --quick 20)",
    )
    parser.add_argument(
        "--concurrency-latency",
        default="30-80",
        help="sandbox latency (ms) for the concurrency and RQ runs (default 30-80)",
    )
    parser.add_argument(
        "--concurrency-db",
        choices=("auto", "sqlite", "postgres"),
        default="auto",
        help="database of the concurrency run (auto: PostgreSQL when reachable)",
    )
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database of the app and admin runs (default sqlite)",
    )
    parser.add_argument(
        "--admin-rows",
        type=int,
        default=None,
        help="messages in the admin changelist run (default 100000; --quick 10000)",
    )
    parser.add_argument(
        "--rq-n", type=int, default=None, help="messages in each RQ run (default 120; --quick 40)"
    )
    parser.add_argument(
        "--bulk-n",
        type=int,
        default=None,
        help="messages queued by queue_sms, then by queue_many (default 5000; --quick 300)",
    )
    parser.add_argument(
        "--validation-n",
        type=int,
        default=None,
        help="recipients validated as plain numbers, then as maps (default 80000; --quick 2000)",
    )
    parser.add_argument("--rq-workers", type=int, default=2, help="rqworker processes (default 2)")
    parser.add_argument(
        "--scale",
        default=None,
        help="two sizes for the tracemalloc scaling run, e.g. 200,1000 (default N/20 and N/4)",
    )
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="run every part against an HTTPS sandbox (self-signed certificate, verified)",
    )
    parser.add_argument(
        "--tls-n",
        type=int,
        default=None,
        help="messages per run in the over-TLS section at zero latency (default 200; --quick 30)",
    )
    parser.add_argument(
        "--tls-ca",
        choices=("certifi", "sandbox"),
        default="certifi",
        help="CA bundle the clients verify with over TLS: certifi's plus the sandbox "
        "certificate (like verify=True; default) or the sandbox certificate alone",
    )
    parser.add_argument(
        "--sweep-latencies",
        default="0,10,40,100",
        help="sandbox latencies (ms) of the sweep (default 0,10,40,100)",
    )
    parser.add_argument(
        "--sweep-concurrency",
        default="1,4,8,16",
        help="SMSREST['CONCURRENCY'] values of the sweep (default 1,4,8,16)",
    )
    parser.add_argument(
        "--sweep-n",
        type=int,
        default=None,
        help="messages per sweep cell and journal run (default: by latency, see bench.sweep)",
    )
    parser.add_argument(
        "--rss-sizes",
        default=None,
        help="also flush each of these sizes (e.g. 1000,100000) at zero latency, "
        "CONCURRENCY 8, and print the peak RSS of each against the first",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also flush min(N, 1000) messages under cProfile and print the top functions",
    )
    parser.add_argument(
        "--json",
        dest="json_path",
        help="write the results file here instead of bench/results/<date>-<commit>.json",
    )
    args = parser.parse_args(argv)
    out_path = Path(args.json_path) if args.json_path else None
    # Date and commit as the run starts (the work tree may change while it runs).
    header = stamp({}, sys.argv[1:] if argv is None else argv)

    quick = args.quick
    n = args.n or (300 if quick else 2000)
    workers = [int(w) for w in (args.workers or ("1,2,4" if quick else "1,2,4,8")).split(",") if w]
    conc_n = args.concurrency_n or (60 if quick else 150)
    latency_n = args.latency_n or (20 if quick else 60)
    admin_rows = args.admin_rows or (10_000 if quick else 100_000)
    rq_n = args.rq_n or (40 if quick else 120)
    bulk_n = args.bulk_n or (300 if quick else 5000)
    validation_n = args.validation_n or (2000 if quick else 80_000)
    tls_n = args.tls_n or (30 if quick else 200)
    if args.scale:
        small, large = (int(x) for x in args.scale.split(","))
    else:
        small = max(20, n // 20)
        large = 5 * small
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    latency = None if args.latency_ms in ("0", "") else args.latency_ms
    tls_problem = tls_unavailable_reason() if (args.tls or "tls" in parts) else None
    if args.tls and tls_problem:
        print(f"--tls: {tls_problem}", file=sys.stderr)
        return 2

    work_dir = tempfile.mkdtemp(prefix="smsrest-bench-")
    log_path = os.path.join(work_dir, "bench.log")
    results: dict[str, Any] = {
        "params": {
            "n": n,
            "latency_ms": args.latency_ms,
            "db": args.db,
            "quick": quick,
            "workers": workers,
            "concurrency_n": conc_n,
            "admin_rows": admin_rows,
            "rq_n": rq_n,
            "bulk_n": bulk_n,
            "validation_n": validation_n,
            "concurrency_latency": args.concurrency_latency,
            "scale": [small, large],
            "tls": args.tls,
            "tls_n": tls_n,
            "tls_ca": args.tls_ca,
        },
        "machine": machine(django_version()),
    }
    notes: list[str] = []
    pg_name = os.environ.get("SMSREST_BENCH_PG_NAME", "smsrest_bench")
    pg_problem = (
        postgres_status(pg_name)
        if (args.db == "postgres" or {"concurrency", "rq"} & set(parts))
        else None
    )
    if args.db == "postgres" and pg_problem:
        print(f"--db postgres: {pg_problem}", file=sys.stderr)
        return 2
    if not pg_problem:
        results["machine"]["postgresql"] = postgresql_version(pg_name)

    sqlite_path = os.path.join(work_dir, "bench.sqlite3")
    with open(log_path, "w") as log:
        certificate, bundle = tls_material(work_dir, args.tls_ca) if args.tls else (None, None)
        sandbox = Sandbox(log, certificate, bundle)
        runner = Runner(sandbox.base_url, sqlite_path, pg_name, log, sandbox.ca_bundle)
        over = " over TLS" if args.tls else ""
        try:
            with step(f"schema ({args.db})"):
                results["schema"] = runner.phase("schema", db=args.db)
            if "baselines" in parts:
                with step(f"baseline A (seed pattern){over}, N={n}"):
                    sandbox.reset(latency)
                    results["seed"] = {
                        "per_s": baseline_seed(sandbox.base_url, n, sandbox.verify),
                        "sandbox": counts_summary(sandbox.counts()),
                    }
                with step(f"baseline B (floor){over}, N={n}"):
                    sandbox.reset(latency)
                    results["floor"] = {
                        "per_s": baseline_floor(sandbox.base_url, n, sandbox.verify),
                        "sandbox": counts_summary(sandbox.counts()),
                    }
            if "app" in parts:
                with step(f"app: flush_queue{over}, N={n}, {args.db}"):
                    results["app"] = run_app(runner, sandbox, n, args.db, latency)
                if args.profile:
                    with step("app under cProfile"):
                        results["profile"] = run_app(
                            runner,
                            sandbox,
                            min(n, 1000),
                            args.db,
                            latency,
                            profile=os.path.join(work_dir, "flush.pstats"),
                        )["flush"]
            if "scale" in parts:
                results["scale"] = {}
                for size in (small, large):
                    with step(f"app with tracemalloc, N={size}"):
                        results["scale"][str(size)] = run_app(
                            runner, sandbox, size, args.db, latency, trace=True
                        )
            if "big" in parts:
                with step(f"one message to {BIG_RECIPIENTS:,} recipients"):
                    runner.phase("reset", db=args.db)
                    big = runner.phase("big", {"recipients": BIG_RECIPIENTS}, db=args.db)
                    big["sandbox"] = counts_summary(sandbox.counts())
                    results["big"] = big
            if "latency" in parts:
                lat, lat_n = args.concurrency_latency, latency_n
                results["with_latency"] = {"latency": lat, "n": lat_n}
                with step(
                    f"seed, floor and app again with sandbox latency {lat} ms{over}, N={lat_n}"
                ):
                    sandbox.reset(lat)
                    results["with_latency"]["seed"] = baseline_seed(
                        sandbox.base_url, lat_n, sandbox.verify
                    )
                    sandbox.reset(lat)
                    results["with_latency"]["floor"] = baseline_floor(
                        sandbox.base_url, lat_n, sandbox.verify
                    )
                    results["with_latency"]["app"] = run_app(runner, sandbox, lat_n, args.db, lat)[
                        "flush"
                    ]["per_s"]
            if "sweep" in parts and args.db == "sqlite":
                with step(f"latency x CONCURRENCY sweep{over} (SQLite WAL)"):
                    results["sweep"] = run_sweep(
                        runner,
                        sandbox,
                        baseline_floor,
                        latencies=tuple(int(x) for x in args.sweep_latencies.split(",")),
                        concurrencies=tuple(int(x) for x in args.sweep_concurrency.split(",")),
                        zero_n=200 if quick else 500,
                        quick=quick,
                        fixed_n=args.sweep_n,
                    )
            if args.rss_sizes and args.db == "sqlite":
                sizes = tuple(int(x) for x in args.rss_sizes.split(","))
                with step(f"peak RSS against N: {', '.join(f'{x:,}' for x in sizes)}"):
                    results["rss"] = run_rss(runner, sandbox, sizes)  # the report shows it
            if "journal" in parts and args.db == "sqlite":
                with step("SQLite WAL vs rollback journal, zero latency"):
                    results["journal"] = run_journal(
                        runner, sandbox, baseline_floor, n=args.sweep_n or (150 if quick else 400)
                    )
            if "tls" in parts and args.tls:
                notes.append("part tls skipped: with --tls every part already ran over TLS")
            elif "tls" in parts and tls_problem:
                results["tls"] = {"skipped": tls_problem}
            elif "tls" in parts:
                lat = args.concurrency_latency
                with step(
                    f"over TLS: seed, floor and app, N={tls_n}; "
                    f"then latency {lat} ms, N={latency_n}"
                ):
                    tls_cert, tls_bundle = tls_material(work_dir, args.tls_ca)
                    tls_sandbox = Sandbox(log, tls_cert, tls_bundle)
                    try:
                        tls_runner = Runner(
                            tls_sandbox.base_url, sqlite_path, pg_name, log, tls_sandbox.ca_bundle
                        )
                        results["tls"] = run_comparison(
                            tls_runner, tls_sandbox, tls_n, args.db, lat, latency_n
                        )
                        results["tls"]["ca"] = args.tls_ca
                    finally:
                        tls_sandbox.stop()
            if "concurrency" in parts:
                conc_db = args.concurrency_db
                if conc_db == "auto":
                    conc_db = "sqlite" if pg_problem else "postgres"
                    if pg_problem:
                        notes.append(f"concurrency ran on SQLite: {pg_problem}")
                if (
                    conc_db != args.db
                    or "schema" not in results
                    or results["schema"].get("vendor")
                    != ("postgresql" if conc_db == "postgres" else "sqlite")
                ):
                    runner.phase("schema", db=conc_db)
                with step(
                    f"concurrency: workers {workers}, N={conc_n}, "
                    f"latency {args.concurrency_latency} ms, {conc_db}"
                ):
                    results["concurrency"] = {
                        "db": conc_db,
                        "latency": args.concurrency_latency,
                        "runs": run_concurrency(
                            runner, sandbox, conc_n, workers, conc_db, args.concurrency_latency
                        ),
                    }
            if "admin" in parts:
                with step(f"admin changelist, {admin_rows:,} messages, {args.db}"):
                    try:
                        results["admin"] = runner.phase("admin", {"rows": admin_rows}, db=args.db)
                    except RuntimeError as exc:
                        results["admin"] = {"error": str(exc)}
            if "bulk" in parts:
                with step(f"queue_sms vs queue_many, N={bulk_n}, {args.db}"):
                    runner.phase("reset", db=args.db)
                    results["bulk"] = runner.phase("bulk", {"n": bulk_n}, db=args.db)
            if "validation" in parts:
                with step(f"validation: {validation_n:,} maps vs plain numbers"):
                    results["validation"] = runner.phase(
                        "validation", {"n": validation_n, "repeat": 2}, db=args.db
                    )
            if "rq" in parts:
                problem = pg_problem or redis_status()
                if problem:
                    results["rq"] = {"skipped": problem}
                else:
                    runner.phase("schema", db="postgres", settings="bench.rq_settings")
                    with step(
                        f"RQ: {args.rq_workers} rqworkers, N={rq_n}, "
                        f"latency {args.concurrency_latency} ms"
                    ):
                        try:
                            results["rq"] = {
                                "runs": run_rq(
                                    runner,
                                    sandbox,
                                    rq_n,
                                    args.rq_workers,
                                    args.concurrency_latency,
                                    log,
                                    work_dir,
                                )
                            }
                        except Exception as exc:
                            results["rq"] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            sandbox.stop()
            # The SQLite file holds up to the admin run's 100,000 messages: not worth keeping.
            for path in Path(work_dir).glob("bench.sqlite3*"):
                path.unlink()

    print(render(results, notes))
    print(f"\n(logs in {work_dir})")
    # Every run is kept with its date, commit and machine (bench/results/ unless --json).
    written = write({**header, **results}, out_path)
    print(f"(results in {written})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
