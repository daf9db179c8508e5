#!/usr/bin/env python
"""Soak: P ``send_sms --loop`` workers for N minutes against the sandbox gateway, under
random faults, then count what was lost and what was POSTed twice.

    python bench/soak.py [--workers 3] [--minutes 10] [--rate 10] [--db sqlite|postgres]
                         [--seed 1] [--drain 180] [--json results.json]
                         [--slow-beyond-timeout]

One run:

1. a database of its own (a temporary SQLite file in WAL mode, or a PostgreSQL database
   ``smsrest_soak_<pid>`` created and dropped), migrated;
2. one sandbox gateway (``python -m django_smsrest.sandbox --port 0``);
3. a producer process queueing ``--rate`` messages a second (``queue_sms``, rows only) for
   the whole run, and ``--workers`` processes running ``manage.py send_sms --loop``, the
   production worker, exactly as a deploy runs it;
4. chaos, drawn from ``--seed`` every quarter second:

   * gateway **outages** (every POST answered 500 before anything is stored), 2-6 s;
   * **429 storms** (every POST rate limited, ``Retry-After: 2``), 2-6 s;
   * **slow answers** (0.3-2 s of latency on every call, under the 2.5 s read timeout;
     ``--slow-beyond-timeout``: 0.5-3 s, see :data:`SLOW_BEYOND_TIMEOUT`), 3-8 s;
   * throughout, 1 % each of the orders stored then answered 500, timed out or dropped;
   * **database connection kills** (PostgreSQL: ``pg_terminate_backend`` of every worker
     connection; not possible on SQLite, reported as ``n/a``);
   * **kill -9** of a random worker, restarted at once; a worker that exits by itself is
     restarted too and counted apart (``crashed``);

5. then the faults stop, the producer stops, and the workers drain the queue (at most
   ``--drain`` seconds); the soak reads the database and the sandbox's ledger.

It prints the messages produced and sent, **lost** (produced but never accepted by the
gateway, or not SENT after the drain), **POSTed twice** (an order the gateway was asked
to store after it had stored it: the sandbox answers 400 DUPLICATE_ORDER_ID), the worker
restarts, the chaos counts and the p50/p99 time from queued to sent; and one
``BENCH-RESULT {json}`` line. Exit status 0 when nothing was lost or sent twice, else 1.

Self-contained on purpose: it imports only :mod:`bench.common` from the benchmarks; its
processes use ``bench/soak_settings.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
# ``python bench/soak.py`` puts bench/ first on sys.path: put the repository root there.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.common import emit, parse_result, recipient, sandbox_call  # noqa: E402

SETTINGS = "bench.soak_settings"
WORKER_ROLE = "smsrest-soak-worker"
#: The statuses that are still on their way (not settled after the drain: "stuck").
OPEN = {"queued", "sending", "unknown"}
#: POST answers after which the gateway holds the order (see the sandbox's faults).
STORED = {201, "drop", "timeout"}
#: Per-run SMSREST: short timeouts and lease so that faults and kills resolve within a
#: short run; retries fast and (practically) unlimited, so nothing fails for good.
SMSREST = {
    "TIMEOUT": [1.05, 2.5],
    "LEASE_SECONDS": 15,
    "RETRY_BASE_SECONDS": 1,
    "RETRY_MAX_SECONDS": 5,
    "MAX_ATTEMPTS": 1000,
    "STATUS_POLL_BASE_SECONDS": 3600,
    "MAX_RECIPIENTS_PER_ORDER": 1,
}
#: Background faults of the chaos phase (shares of the accepted orders).
BACKGROUND = {
    "error_after_rate": 0.01,
    "timeout_after_rate": 0.01,
    "drop_after_rate": 0.01,
    "timeout_seconds": 4,
}
#: Chaos events: (name, sandbox options while on, mean seconds between two, min, max
#: duration in seconds).
EPISODES = (
    ("outage", {"error_rate": 1.0}, 20.0, 2.0, 6.0),
    ("429_storm", {"rate_limit_rate": 1.0, "retry_after": 2}, 20.0, 2.0, 6.0),
    ("slow", {"latency": "300-2000"}, 15.0, 3.0, 8.0),
)
#: ``--slow-beyond-timeout``: slow spells whose answers may come after the read timeout
#: (2.5 s). The POST then times out while the gateway has not registered the order yet,
#: and the look-up that follows can be answered 404 before it does: the app POSTs the
#: order again, and only the gateway's duplicate order_id check stops a second SMS. Off by
#: default: no client can tell this race apart from "not sent" (see docs/monitoring.rst).
SLOW_BEYOND_TIMEOUT = "500-3000"
OFF = {"error_rate": 0, "rate_limit_rate": 0, "latency": 0}
DB_KILL_EVERY = 8.0  # mean seconds between two kills of the workers' connections
KILL9_EVERY = 12.0  # mean seconds between two kill -9 of a worker
TICK = 0.25


# --- the Django side: producer and report, each in its own process --------------------------


def _setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    django.setup()


def produce(rate: float, seconds: float) -> None:
    """Queue ``rate`` messages a second for ``seconds`` (or until SIGTERM); emit the count."""
    _setup()
    from django.db import OperationalError, close_old_connections

    from django_smsrest import services

    stop = False

    def halt(*_args: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, halt)
    produced = errors = 0
    started = time.monotonic()
    while not stop and time.monotonic() - started < seconds:
        due = started + produced / rate
        if due > time.monotonic():
            time.sleep(min(due - time.monotonic(), 0.1))
            continue
        try:
            services.queue_sms(f"Soak message {produced}", [recipient(produced)])
        except OperationalError:  # SQLite busy: nothing was written; try again
            errors += 1
            close_old_connections()
            time.sleep(0.05)
            continue
        produced += 1
    emit({"produced": produced, "errors": errors})


def report() -> None:
    """Emit every message: status, seconds from queued to sent, its order ids."""
    _setup()
    from django_smsrest.models import SmsMessage, SmsOrder

    orders: dict[int, list[str]] = {}
    for message_id, order_id in SmsOrder.objects.values_list("message_id", "order_id"):
        orders.setdefault(message_id, []).append(order_id)
    rows = [
        [
            pk,
            status,
            (sent - created).total_seconds() if sent else None,
            orders.get(pk, []),
        ]
        for pk, status, created, sent in SmsMessage.objects.values_list(
            "pk", "status", "created_at", "sent_at"
        )
    ]
    emit({"messages": rows})


# --- the driver (no Django here) -------------------------------------------------------------


def _pg(dbname: str = "postgres") -> Any:
    import psycopg

    return psycopg.connect(
        dbname=dbname,
        user=os.environ.get("SMSREST_TEST_PG_USER", "postgres"),
        password=os.environ.get("SMSREST_TEST_PG_PASSWORD", ""),
        host=os.environ.get("SMSREST_TEST_PG_HOST", "127.0.0.1"),
        port=os.environ.get("SMSREST_TEST_PG_PORT", "5432"),
        autocommit=True,
        connect_timeout=5,
    )


@dataclass
class Tally:
    chaos: Counter[str] = field(default_factory=Counter)
    killed: int = 0  # kill -9, restarted
    crashed: int = 0  # exited by themselves, restarted
    crash_logs: list[str] = field(default_factory=list)


class Soak:
    def __init__(self, args: argparse.Namespace, tmp: str) -> None:
        self.args = args
        self.tmp = Path(tmp)
        self.rng = random.Random(args.seed)
        self.tally = Tally()
        self.pg_name = f"smsrest_soak_{os.getpid()}" if args.db == "postgres" else ""
        self.db = f"postgres:{self.pg_name}" if self.pg_name else f"sqlite:{tmp}/soak.sqlite3"
        self.base_url = ""
        self.sandbox: subprocess.Popen[str] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []
        self.producer: subprocess.Popen[str] | None = None

    # -- processes ---------------------------------------------------------------------------

    def env(self, *, tasks: str, role: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "PYTHONPATH": str(ROOT),
            "SMSREST_SOAK_DB": self.db,
            "SMSREST_SOAK_SMSREST": json.dumps(
                {**SMSREST, "BASE_URL": self.base_url, "CONCURRENCY": self.args.concurrency}
            ),
            "SMSREST_SOAK_TASKS": tasks,
            "SMSREST_SOAK_ROLE": role,
        }

    def run(self, argv: list[str], env: dict[str, str], timeout: float = 300) -> str:
        done = subprocess.run(
            [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
        return done.stdout

    def start_sandbox(self) -> None:
        env = {**os.environ, "SMSREST_SANDBOX_USERNAME": "sandbox"}
        env["SMSREST_SANDBOX_PASSWORD"] = "sandbox"
        self.sandbox = subprocess.Popen(
            [sys.executable, "-m", "django_smsrest.sandbox", "--port", "0", "--seed",
             str(self.args.seed)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.sandbox.stdout is not None
        line = self.sandbox.stdout.readline().strip()
        self.base_url = line[line.index("http") :]

    def start_worker(self, k: int) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"worker-{k}.log", "ab")  # noqa: SIM115 (closed in stop())
        self.logs.append(log)
        return subprocess.Popen(
            [sys.executable, "-m", "django", "send_sms", "--loop", "--interval", "0.5",
             "--quiet"],
            cwd=ROOT, env=self.env(tasks="immediate", role=WORKER_ROLE), stdout=log,
            stderr=log,
        )  # fmt: skip

    def configure(self, **options: Any) -> None:
        sandbox_call(self.base_url, "config", options)

    # -- chaos -------------------------------------------------------------------------------

    def chance(self, every: float) -> bool:
        return self.rng.random() < TICK / every

    def kill_db_connections(self) -> int:
        with _pg() as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = %s",
                (self.pg_name, WORKER_ROLE),
            ).fetchall()
        return len(rows)

    def watch_workers(self) -> None:
        """Restart every worker that exited by itself (and keep the end of its log)."""
        for k, proc in enumerate(self.workers):
            if proc.poll() is not None:
                self.tally.crashed += 1
                lines = (self.tmp / f"worker-{k}.log").read_text(errors="replace").splitlines()
                last = lines[-1] if lines else "(no output)"
                self.tally.crash_logs.append(f"worker {k} exited {proc.returncode}: {last}")
                self.workers[k] = self.start_worker(k)

    def chaos(self, seconds: float) -> None:
        self.configure(**BACKGROUND)
        active: dict[str, float] = {}
        end = time.monotonic() + seconds
        # At least one kill -9 per run, halfway at the latest: on a loaded machine a short
        # run has few ticks, and a soak that never killed a worker proves less than it says.
        kill_by = time.monotonic() + seconds / 2
        while (now := time.monotonic()) < end:
            for name, until in list(active.items()):
                if now >= until:
                    options = dict(next(e[1] for e in EPISODES if e[0] == name))
                    self.configure(**{key: OFF[key] for key in options if key in OFF})
                    del active[name]
            for name, options, every, low, high in EPISODES:
                if name == "slow" and self.args.slow_beyond_timeout:
                    options = {"latency": SLOW_BEYOND_TIMEOUT}
                if name not in active and self.chance(every):
                    self.configure(**options)
                    active[name] = now + self.rng.uniform(low, high)
                    self.tally.chaos[name] += 1
            if self.pg_name and self.chance(DB_KILL_EVERY):
                self.tally.chaos["db_kills"] += 1
                self.tally.chaos["db_connections_killed"] += self.kill_db_connections()
            if self.chance(KILL9_EVERY) or (not self.tally.killed and now >= kill_by):
                k = self.rng.randrange(len(self.workers))
                self.workers[k].send_signal(signal.SIGKILL)
                self.workers[k].wait()
                self.tally.killed += 1
                self.workers[k] = self.start_worker(k)
            self.watch_workers()
            time.sleep(TICK)
        self.configure(**{**OFF, **dict.fromkeys(BACKGROUND, 0), "timeout_seconds": 30})

    # -- the run -----------------------------------------------------------------------------

    def setup(self) -> None:
        if self.pg_name:
            with _pg() as conn:
                conn.execute(f'CREATE DATABASE "{self.pg_name}"')
        self.start_sandbox()
        self.run(["-m", "django", "migrate", "-v0"], self.env(tasks="dummy", role="migrate"))

    def teardown(self) -> None:
        if self.producer is not None and self.producer.poll() is None:
            self.producer.kill()
            self.producer.wait()
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()
        if self.sandbox is not None:
            self.sandbox.terminate()
            self.sandbox.wait(10)
        if self.pg_name:
            with _pg() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    def messages(self) -> list[list[Any]]:
        out = self.run([__file__, "report"], self.env(tasks="dummy", role="report"))
        return list(parse_result(out)["messages"])

    def soak(self) -> dict[str, Any]:
        args = self.args
        seconds = args.minutes * 60
        producer = self.producer = subprocess.Popen(
            [sys.executable, __file__, "produce", "--rate", str(args.rate), "--seconds",
             str(seconds)],
            cwd=ROOT, env=self.env(tasks="dummy", role="producer"), stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.workers = [self.start_worker(k) for k in range(args.workers)]
        started = time.monotonic()
        self.chaos(seconds)
        out, _err = producer.communicate(timeout=60)
        produced = parse_result(out)
        # The drain: no more faults or kills; the workers settle what is left.
        drain_started = time.monotonic()
        while True:
            self.watch_workers()
            rows = self.messages()
            if not any(status in OPEN for _pk, status, _s, _o in rows):
                break
            if time.monotonic() - drain_started > args.drain:
                break
            time.sleep(2)
        drained = time.monotonic() - drain_started
        ledger = sandbox_call(self.base_url, "orders")
        return self.figures(produced, rows, ledger, time.monotonic() - started, drained)

    def figures(
        self,
        produced: dict[str, Any],
        rows: list[list[Any]],
        ledger: dict[str, Any],
        seconds: float,
        drained: float,
    ) -> dict[str, Any]:
        stored = {order["order_id"] for order in ledger["orders"]}
        twice = [
            {k: order.get(k) for k in ("order_id", "post_answers", "fault", "created_at")}
            for order in ledger["orders"]
            if 400 in order["post_answers"]
            or sum(answer in STORED for answer in order["post_answers"]) > 1
        ]
        statuses = Counter(status for _pk, status, _s, _o in rows)
        settled = [
            pk
            for pk, status, _s, order_ids in rows
            if status == "sent" and order_ids and all(o in stored for o in order_ids)
        ]
        times = sorted(s for _pk, status, s, _o in rows if status == "sent" and s is not None)
        return {
            "db": self.args.db,
            "workers": self.args.workers,
            "minutes": self.args.minutes,
            "seconds": round(seconds, 1),
            "drain_seconds": round(drained, 1),
            "produced": produced["produced"],
            "rows": len(rows),
            "sent": len(settled),
            "lost": produced["produced"] - len(settled),
            "posted_twice": len(twice),
            "statuses": dict(statuses),
            "posts": ledger["posts_total"],
            "logins": ledger["logins"] + ledger.get("tokens", 0),
            "worker_restarts": self.tally.killed + self.tally.crashed,
            "killed_9": self.tally.killed,
            "crashed": self.tally.crashed,
            "chaos": dict(self.tally.chaos) | ({} if self.pg_name else {"db_kills": "n/a"}),
            "p50_seconds_to_sent": _percentile(times, 50),
            "p99_seconds_to_sent": _percentile(times, 99),
            "crash_logs": self.tally.crash_logs[-3:],
            "twice": twice[:10],  # the first ones, with the gateway's answers
        }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))
    return round(values[index], 2)


def describe(result: dict[str, Any]) -> str:
    chaos = result["chaos"]
    return "\n".join(
        [
            f"Soak: {result['workers']} workers x {result['minutes']:g} min on {result['db']}"
            f" ({result['seconds']} s, drain {result['drain_seconds']} s)",
            f"  messages produced   {result['produced']}",
            f"  messages sent       {result['sent']}",
            f"  lost                {result['lost']}",
            f"  POSTed twice        {result['posted_twice']}",
            f"  worker restarts     {result['worker_restarts']} "
            f"({result['killed_9']} kill -9, {result['crashed']} exited by themselves)",
            f"  chaos               {chaos.get('outage', 0)} outages, "
            f"{chaos.get('429_storm', 0)} 429 storms, {chaos.get('slow', 0)} slow spells, "
            f"{chaos.get('db_kills', 0)} DB connection kills "
            f"({chaos.get('db_connections_killed', 0)} connections)",
            f"  POSTs / logins      {result['posts']} / {result['logins']}",
            f"  time to sent        p50 {result['p50_seconds_to_sent']} s, "
            f"p99 {result['p99_seconds_to_sent']} s",
            f"  final statuses      {result['statuses']}",
        ]
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role")
    p = sub.add_parser("produce")
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    sub.add_parser("report")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=10.0, help="messages queued per second")
    parser.add_argument("--concurrency", type=int, default=4, help='SMSREST["CONCURRENCY"]')
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drain", type=float, default=180.0, help="seconds, at most")
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument(
        "--slow-beyond-timeout",
        action="store_true",
        help="slow spells answer after the read timeout too (see SLOW_BEYOND_TIMEOUT)",
    )
    args = parser.parse_args(argv)
    if args.role == "produce":
        produce(args.rate, args.seconds)
        return 0
    if args.role == "report":
        report()
        return 0
    with tempfile.TemporaryDirectory(prefix="smsrest-soak-") as tmp:
        soak = Soak(args, tmp)
        try:
            soak.setup()
            result = soak.soak()
        finally:
            soak.teardown()
    print(describe(result))
    for log in result["crash_logs"]:
        print(f"  last crash          {log}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    emit(result)
    return 0 if result["lost"] == 0 and result["posted_twice"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
