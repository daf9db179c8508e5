#!/usr/bin/env python
"""Benchmarks of django-smsrest against its own sandbox gateway, over loopback.

    python bench/bench.py [--n 2000] [--latency-ms 0] [--workers 1,2,4,8] [--db sqlite|postgres]
                          [--quick] [--parts baselines,app,scale,big,latency,sweep,journal,
                          tls,concurrency,admin,rq] [--tls] [--profile] [--json results.json]
                          (--help for sizes)

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

Targets are printed with PASS/MISS; nothing is asserted. Every Django-side step runs in
its own process (``python -m bench.phases``), so memory peaks are per step. Runs are
bounded: the default run takes about three minutes on a 2-core machine; ``--quick`` well
under one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
# ``python bench/bench.py`` puts bench/ first on sys.path, where ``import bench`` would find
# this very file instead of the package: put the repository root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.common import (  # noqa: E402
    CA_BUNDLE_ENV,
    SANDBOX_PASSWORD,
    SANDBOX_USER,
    parse_result,
    recipient,
    sandbox_call,
    sandbox_counts,
)
from bench.report import render  # noqa: E402
from bench.sweep import run_journal, run_sweep  # noqa: E402
from django_smsrest.testing.sandbox import (  # noqa: E402
    TlsCertificate,
    make_self_signed_cert,
    tls_unavailable_reason,
)

PY = sys.executable
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
)
BIG_RECIPIENTS = 10_000


# --- processes ---------------------------------------------------------------------------


class Sandbox:
    """The sandbox gateway in a subprocess of ours (stopped by its pid, nothing else).

    With ``certificate`` it serves HTTPS; ``ca_bundle`` is then the file every client of
    the benchmark verifies it against (``verify=`` / ``VERIFY_TLS``), else ``None``.
    """

    def __init__(
        self,
        log: IO[str],
        certificate: TlsCertificate | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        # Credits are no constraint here: every phase resets the sandbox, which refills.
        command = [PY, "-m", "django_smsrest.sandbox", "--port", "0", "--credits", "100000000"]
        if certificate:
            command += ["--tls-cert", certificate.cert, "--tls-key", certificate.key]
        self.ca_bundle = ca_bundle if certificate else None
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"the sandbox did not start (printed {line!r})")
        self.base_url = line

    def reset(self, latency: str | None = None) -> None:
        """Forget orders and counters (faults off); then set ``latency`` ("30-80") if given."""
        sandbox_call(self.base_url, "reset", {}, ca_bundle=self.ca_bundle)
        if latency:
            sandbox_call(self.base_url, "config", {"latency": latency}, ca_bundle=self.ca_bundle)

    @property
    def verify(self) -> bool | str:
        """What the baselines pass as ``verify``: the bundle over TLS (never ``False``)."""
        return self.ca_bundle or True

    def counts(self) -> dict[str, Any]:
        return sandbox_counts(self.base_url, ca_bundle=self.ca_bundle)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Runner:
    """Starts the Django-side phases with the right environment."""

    def __init__(
        self,
        base_url: str,
        sqlite_path: str,
        pg_name: str,
        log: IO[str],
        ca_bundle: str | None = None,
    ) -> None:
        self.base_url = base_url
        self.sqlite_path = sqlite_path
        self.pg_name = pg_name
        self.log = log
        self.ca_bundle = ca_bundle

    def env(
        self, db: str, settings: str = "bench.settings", extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE=settings,
            SMSREST_BENCH_DB=db,
            SMSREST_BENCH_SQLITE=self.sqlite_path,
            SMSREST_BENCH_PG_NAME=self.pg_name,
            SMSREST_BENCH_BASE_URL=self.base_url,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        )
        env.pop(CA_BUNDLE_ENV, None)
        if self.ca_bundle:
            env[CA_BUNDLE_ENV] = self.ca_bundle
        env.update(extra or {})
        return env

    def phase(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        db: str,
        settings: str = "bench.settings",
        timeout: float = 600,
        env: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        proc = subprocess.run(
            [
                PY,
                "-m",
                "bench.phases",
                name,
                json.dumps({"base_url": self.base_url, **(params or {})}),
            ],
            cwd=ROOT,
            env=self.env(db, settings, env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.log.write(f"--- phase {name} ({db}) rc={proc.returncode}\n{proc.stderr}\n")
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"phase {name!r} failed (exit {proc.returncode}):\n{tail}")
        return parse_result(proc.stdout)

    def popen_phase(self, name: str, params: dict[str, Any], *, db: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [PY, "-m", "bench.phases", name, json.dumps({"base_url": self.base_url, **params})],
            cwd=ROOT,
            env=self.env(db),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )


def django_version() -> str:
    from importlib.metadata import version

    return version("django")


def postgres_status(name: str) -> str | None:
    """``None`` if PostgreSQL on 127.0.0.1:5432 is usable (creating database ``name`` if
    needed), else the reason it is not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    host = os.environ.get("SMSREST_BENCH_PG_HOST", "127.0.0.1")
    port = os.environ.get("SMSREST_BENCH_PG_PORT", "5432")
    user = os.environ.get("SMSREST_BENCH_PG_USER", "postgres")
    try:
        with psycopg.connect(
            host=host, port=port, user=user, dbname="postgres", autocommit=True, connect_timeout=3
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        return f"PostgreSQL at {host}:{port} is not usable: {type(exc).__name__}: {exc}"
    return None


def redis_status() -> str | None:
    try:
        import redis
    except ImportError:
        return "django-tasks-rq is not installed (pip install django-tasks-rq django-rq)"
    try:
        redis.Redis(
            host=os.environ.get("SMSREST_BENCH_REDIS_HOST", "127.0.0.1"),
            port=int(os.environ.get("SMSREST_BENCH_REDIS_PORT", "6379")),
            socket_connect_timeout=2,
        ).ping()
    except Exception as exc:
        return f"Redis is not reachable: {type(exc).__name__}: {exc}"
    return None


# --- baselines ---------------------------------------------------------------------------


def seed_payload(i: int) -> dict[str, Any]:
    """The seed quick start's message, immediate (the app sends immediately too)."""
    return {
        "message": f"Benchmark message {i}: your code is {i % 10000:04d}.",
        "message_type": "N",
        "returnCredits": False,
        "recipient": [recipient(i)],
        "sender": None,
    }


def baseline_seed(base_url: str, n: int, verify: bool | str = True) -> float:
    """The quick start's pattern, verbatim in spirit: login + POST per message, each with
    a plain ``requests`` call (new connection, new session, no keep-alive).

    ``verify``: over TLS, the bundle that trusts the sandbox (the quick start leaves it at
    ``True``, which loads certifi's bundle for every new connection just the same)."""

    def login(username: str, password: str) -> tuple[str, str] | None:
        r = requests.get(f"{base_url}login?username={username}&password={password}", verify=verify)
        if r.status_code != 200:
            return None
        user_key, session_key = r.text.split(";")
        return user_key, session_key

    def send_sms(auth: tuple[str, str], sendsms: dict[str, Any]) -> Any:
        headers = {"user_key": auth[0], "Session_key": auth[1], "Content-type": "application/json"}
        r = requests.post(
            f"{base_url}sms", headers=headers, data=json.dumps(sendsms), verify=verify
        )
        if r.status_code != 201:
            return None
        return json.loads(r.text)

    start = time.perf_counter()
    for i in range(n):
        auth = login(SANDBOX_USER, SANDBOX_PASSWORD)
        assert auth, "login failed"
        sent = send_sms(auth, seed_payload(i))
        assert sent and sent["result"] == "OK", sent
    return n / (time.perf_counter() - start)


def baseline_floor(base_url: str, n: int, verify: bool | str = True) -> float:
    """The fastest a single process can go: one keep-alive session, one login, no DB.

    ``verify`` goes on every request: a Session's own ``verify`` loses to
    ``$REQUESTS_CA_BUNDLE``."""
    with requests.Session() as session:
        r = session.get(
            f"{base_url}login",
            params={"username": SANDBOX_USER, "password": SANDBOX_PASSWORD},
            verify=verify,
        )
        user_key, session_key = r.text.split(";")
        headers = {
            "user_key": user_key,
            "Session_key": session_key,
            "Content-type": "application/json",
        }
        start = time.perf_counter()
        for i in range(n):
            r = session.post(
                f"{base_url}sms", headers=headers, data=json.dumps(seed_payload(i)), verify=verify
            )
            assert r.status_code == 201, r.text
            r.json()
        return n / (time.perf_counter() - start)


def tls_material(work_dir: str, ca: str) -> tuple[TlsCertificate, str]:
    """A throwaway certificate for the sandbox and the CA bundle the clients verify with:
    ``certifi`` = certifi's bundle plus the certificate (what ``verify=True`` loads on every
    new connection, so the seed pays the same CA loading as in production), ``sandbox`` =
    the certificate alone (a lower bound for the seed's cost)."""
    certificate = make_self_signed_cert(work_dir)
    if ca == "sandbox":
        return certificate, certificate.cert
    import certifi

    bundle = Path(work_dir) / "ca-bundle.pem"
    bundle.write_text(
        Path(certifi.where()).read_text() + "\n" + Path(certificate.cert).read_text()
    )
    return certificate, str(bundle)


def run_comparison(
    runner: Runner,
    sandbox: Sandbox,
    n: int,
    db: str,
    lat: str | None,
    lat_n: int,
) -> dict[str, Any]:
    """A, B and the app against ``sandbox`` at zero latency (N=n), then with latency
    ``lat`` (N=lat_n). Used for the section over TLS."""
    out: dict[str, Any] = {"n": n}
    sandbox.reset()
    out["seed"] = {
        "per_s": baseline_seed(sandbox.base_url, n, sandbox.verify),
        "sandbox": counts_summary(sandbox.counts()),
    }
    sandbox.reset()
    out["floor"] = {
        "per_s": baseline_floor(sandbox.base_url, n, sandbox.verify),
        "sandbox": counts_summary(sandbox.counts()),
    }
    out["app"] = run_app(runner, sandbox, n, db, None)
    if lat:
        sandbox.reset(lat)
        seed = baseline_seed(sandbox.base_url, lat_n, sandbox.verify)
        sandbox.reset(lat)
        floor = baseline_floor(sandbox.base_url, lat_n, sandbox.verify)
        app = run_app(runner, sandbox, lat_n, db, lat)
        out["with_latency"] = {
            "latency": lat,
            "n": lat_n,
            "seed": seed,
            "floor": floor,
            "app": app["flush"]["per_s"],
            "app_verify": app["verify"],
        }
    return out


# --- reporting ---------------------------------------------------------------------------


@contextmanager
def step(title: str) -> Iterator[None]:
    print(f"... {title}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    yield
    print(f"    done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


# --- the runs ----------------------------------------------------------------------------


def run_app(
    runner: Runner,
    sandbox: Sandbox,
    n: int,
    db: str,
    latency: str | None,
    *,
    trace: bool = False,
    profile: str | None = None,
) -> dict[str, Any]:
    """Create ``n`` queued messages (one process), flush them (another) and count."""
    runner.phase("reset", db=db)
    created = runner.phase("create", {"n": n, "via_queue_sms": min(n, 200)}, db=db)
    sandbox.reset(latency)
    flushed = runner.phase("flush", {"trace": trace, "profile": profile}, db=db)
    counts = sandbox.counts()
    verify = runner.phase("verify", db=db)
    return {
        "create": created,
        "flush": flushed,
        "sandbox": counts_summary(counts),
        "verify": verify,
    }


def counts_summary(counts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in counts.items() if k != "post_counts"}


def run_concurrency(
    runner: Runner, sandbox: Sandbox, n: int, workers: list[int], db: str, latency: str
) -> list[dict[str, Any]]:
    rows = []
    for count in workers:
        runner.phase("reset", db=db)
        runner.phase("create", {"n": n}, db=db)
        sandbox.reset(latency)
        procs = [runner.popen_phase("flush-worker", {}, db=db) for _ in range(count)]
        try:
            for proc in procs:
                assert proc.stdout is not None
                line = proc.stdout.readline().strip()
                if line != "READY":
                    raise RuntimeError(
                        f"a flush worker did not start (said {line!r}); see the log"
                    )
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("GO\n")
                proc.stdin.flush()
            results = []
            for proc in procs:
                out, _ = proc.communicate(timeout=600)
                results.append(parse_result(out))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        start = min(r["start"] for r in results)
        end = max(r["end"] for r in results)
        counts = sandbox.counts()
        verify = runner.phase("verify", db=db)
        rows.append(
            {
                "workers": count,
                "n": n,
                "seconds": end - start,
                "per_s": n / (end - start),
                "skipped": sum(r["skipped"] for r in results),
                "errors": sum(r["errors"] for r in results),
                "per_worker_sent": [sum(r["by_status"].values()) for r in results],
                "sandbox": counts_summary(counts),
                "verify": verify,
            }
        )
    return rows


def run_rq(
    runner: Runner,
    sandbox: Sandbox,
    n: int,
    workers: int,
    latency: str,
    log: IO[str],
    log_dir: str,
) -> list[dict[str, Any]]:
    """django-tasks-rq with ``workers`` rqworker processes; once with RQ's default worker
    (forks a work horse per job) and once with ``SimpleWorker`` (runs jobs in-process)."""
    rows = []
    env = runner.env("postgres", "bench.rq_settings")
    for worker_class in ("rq.worker.Worker", "rq.worker.SimpleWorker"):
        runner.phase("reset", db="postgres", settings="bench.rq_settings")
        runner.phase("rq-clean", db="postgres", settings="bench.rq_settings")
        sandbox.reset(latency)
        procs = []
        logs = []
        try:
            for k in range(workers):
                path = os.path.join(log_dir, f"rqworker-{worker_class.rsplit('.', 1)[1]}-{k}.log")
                logs.append(path)
                with open(path, "w") as handle:
                    procs.append(
                        subprocess.Popen(
                            [
                                PY,
                                "-m",
                                "django",
                                "rqworker",
                                "--job-class",
                                "django_tasks_rq.Job",
                                "--worker-class",
                                worker_class,
                                env.get("SMSREST_BENCH_RQ_QUEUE", "smsrest-bench"),
                            ],
                            cwd=ROOT,
                            env=env,
                            stdout=handle,
                            stderr=subprocess.STDOUT,
                            text=True,
                        )
                    )
            deadline = time.time() + 30
            while time.time() < deadline:
                ready = sum("Listening on" in Path(p).read_text() for p in logs)
                if ready == workers:
                    break
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"an rqworker exited at start; see {logs}")
                time.sleep(0.1)
            else:
                raise RuntimeError(f"rqworkers did not start listening within 30 s; see {logs}")
            result = runner.phase(
                "rq-queue", {"n": n, "timeout": 120}, db="postgres", settings="bench.rq_settings"
            )
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)  # warm shutdown: finish the current job
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        counts = sandbox.counts()
        verify = runner.phase("verify", db="postgres", settings="bench.rq_settings")
        rows.append(
            {
                "worker_class": worker_class,
                "workers": workers,
                **result,
                "sandbox": counts_summary(counts),
                "verify": verify,
            }
        )
        log.write(f"rq {worker_class}: {result}\n")
    return rows


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
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also flush min(N, 1000) messages under cProfile and print the top functions",
    )
    parser.add_argument(
        "--json", dest="json_path", help="write every measurement to this JSON file"
    )
    args = parser.parse_args(argv)

    quick = args.quick
    n = args.n or (300 if quick else 2000)
    workers = [int(w) for w in (args.workers or ("1,2,4" if quick else "1,2,4,8")).split(",") if w]
    conc_n = args.concurrency_n or (60 if quick else 150)
    latency_n = args.latency_n or (20 if quick else 60)
    admin_rows = args.admin_rows or (10_000 if quick else 100_000)
    rq_n = args.rq_n or (40 if quick else 120)
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
            "concurrency_latency": args.concurrency_latency,
            "scale": [small, large],
            "tls": args.tls,
            "tls_n": tls_n,
            "tls_ca": args.tls_ca,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "django": django_version(),
        },
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
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
