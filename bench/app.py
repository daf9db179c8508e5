"""The app's runs: N queued messages flushed by ``services.flush_queue`` (part ``app``,
``scale``, ``latency``, ``tls``), several flushing processes on one database (part
``concurrency``) and RQ workers (part ``rq``); each run counts what the sandbox received and
checks the exactly-once invariant.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from bench.baselines import baseline_floor, baseline_seed
from bench.common import parse_result
from bench.processes import PY, ROOT, Runner, Sandbox, counts_summary


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
