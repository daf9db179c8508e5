"""The latency x CONCURRENCY sweep and the SQLite journal comparison (parts ``sweep`` and
``journal`` of ``bench/bench.py``).

Sweep: for each sandbox latency L (0, 10, 40, 100 ms) the single-connection floor (one
keep-alive session, one login, POSTs in a loop, no database: the best one connection can
do), then for each CONCURRENCY K (1, 4, 8, 16) one ``flush_queue`` of N messages in its
own process. Per cell: msg/s, x the floor, x the physical limit K / L (K connections each
waiting L per request; none at zero latency), queries per message, logins, peak RSS of the
flushing process (and what the flush added to it). N shrinks with the time a cell needs
(about 2.5 s of sending at the limit, 60 to 600 messages; 500 at zero latency), so the
whole sweep stays under two minutes.

Journal: at zero latency, the flush on SQLite with WAL (``journal_mode=WAL,
synchronous=NORMAL``, what the example project configures) and with SQLite's default
rollback journal (``DELETE``, ``synchronous=FULL``), K = 1 and 8.
"""

from __future__ import annotations

from typing import Any, Protocol


class _Runner(Protocol):
    def phase(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        db: str,
        settings: str = ...,
        timeout: float = ...,
        env: dict[str, str] | None = ...,
    ) -> dict[str, Any]: ...


class _Sandbox(Protocol):
    base_url: str
    verify: bool | str

    def reset(self, latency: str | None = None) -> None: ...

    def counts(self) -> dict[str, Any]: ...


LATENCIES = (0, 10, 40, 100)
CONCURRENCIES = (1, 4, 8, 16)


def cell_n(latency_ms: int, k: int, zero_n: int, quick: bool, fixed: int | None = None) -> int:
    """Messages for one cell: ~2.5 s of sending at the physical limit (60..600)."""
    if fixed:
        return fixed
    if latency_ms == 0:
        return zero_n
    n = int(k / (latency_ms / 1000) * 2.5)
    return max(30 if quick else 60, min(n, 150 if quick else 600))


def floor_n(latency_ms: int, zero_n: int) -> int:
    return zero_n if latency_ms == 0 else max(20, int(3 / (latency_ms / 1000)))


def flush_cell(
    runner: _Runner, sandbox: _Sandbox, n: int, k: int, latency: str | None, env: dict[str, str]
) -> dict[str, Any]:
    """Create ``n`` queued messages, flush them with CONCURRENCY ``k``, count."""
    env = {**env, "SMSREST_BENCH_CONCURRENCY": str(k)}
    runner.phase("reset", db="sqlite", env=env)
    runner.phase("create", {"n": n}, db="sqlite", env=env)
    sandbox.reset(latency)
    flushed = runner.phase("flush", {}, db="sqlite", env=env)
    counts = sandbox.counts()
    return {
        "k": k,
        "n": n,
        "per_s": flushed["per_s"],
        "queries_per_msg": flushed["queries_per_msg"],
        "logins": counts["logins"],
        "posts": counts["posts_total"],
        "orders": counts["orders"],
        "exactly_once": counts["posts_total"] == counts["orders"] == n
        and flushed["by_status"] == {"sent": n},
        "rss_peak_mb": flushed["rss_peak_mb"],
        # What the flush added to the process's peak (0: it stayed below the start-up
        # peak of Django and the app).
        "rss_growth_mb": flushed["rss_peak_mb"] - flushed["rss_before_mb"],
        "by_status": flushed["by_status"],
    }


def run_sweep(
    runner: _Runner,
    sandbox: _Sandbox,
    floor: Any,
    *,
    latencies: tuple[int, ...] = LATENCIES,
    concurrencies: tuple[int, ...] = CONCURRENCIES,
    zero_n: int = 500,
    quick: bool = False,
    fixed_n: int | None = None,
) -> list[dict[str, Any]]:
    """One row per latency: the floor and a cell per K (SQLite, WAL)."""
    rows = []
    for latency_ms in latencies:
        latency = str(latency_ms) if latency_ms else None
        # Under latency the floor needs no more than its ~3 s (one connection: 25/s at
        # 40 ms), whatever ``fixed_n`` the cells take.
        floor_size = floor_n(latency_ms, zero_n) if latency_ms else (fixed_n or zero_n)

        def measure_floor(latency: str | None = latency, size: int = floor_size) -> float:
            sandbox.reset(latency)
            return float(floor(sandbox.base_url, size, sandbox.verify))

        floors = [measure_floor()]
        row: dict[str, Any] = {"latency_ms": latency_ms, "cells": []}
        for k in concurrencies:
            n = cell_n(latency_ms, k, zero_n, quick, fixed_n)
            cell = flush_cell(runner, sandbox, n, k, latency, {})
            if not latency_ms:
                # At zero latency both sides are CPU on a shared machine, whose speed
                # moves by a fifth within a minute: each cell is compared with the floor
                # measured right before and right after it. Under latency the floor is the
                # latency, and once per row is enough.
                floors.append(measure_floor())
                cell["floor_per_s"] = (floors[-2] + floors[-1]) / 2
            row["cells"].append(cell)
        if latency_ms:
            floors.append(measure_floor())
        row["floor_runs"] = floors
        row["floor_per_s"] = sum(floors) / len(floors)
        rows.append(row)
    return rows


def run_rss(
    runner: _Runner, sandbox: _Sandbox, sizes: tuple[int, ...], *, k: int = 8, latency_ms: int = 0
) -> dict[str, Any]:
    """Peak RSS against N (``--rss-sizes``): one flush of each size in its own process,
    CONCURRENCY ``k``, and each peak against the first size's (the target: at most
    1.15x from 1,000 to 100,000 messages). Peaks are per process (``VmHWM``, see
    :func:`bench.db.maxrss_mb`)."""
    latency = str(latency_ms) if latency_ms else None
    cells = [flush_cell(runner, sandbox, n, k, latency, {}) for n in sizes]
    first = cells[0]["rss_peak_mb"] or 1.0
    for cell in cells:
        cell["rss_x_first"] = cell["rss_peak_mb"] / first
    return {"k": k, "latency_ms": latency_ms, "cells": cells}


def run_journal(runner: _Runner, sandbox: _Sandbox, floor: Any, *, n: int = 400) -> dict[str, Any]:
    """Zero latency, SQLite WAL vs rollback journal, K = 1 and 8, and the floor."""
    floors = []
    out: dict[str, Any] = {"n": n}
    for journal in ("wal", "delete"):
        sandbox.reset(None)
        floors.append(floor(sandbox.base_url, n, sandbox.verify))
        env = {"SMSREST_BENCH_SQLITE_JOURNAL": journal}
        runner.phase("schema", db="sqlite", env=env)  # switches the file's journal mode
        out[journal] = [flush_cell(runner, sandbox, n, k, None, env) for k in (1, 8)]
    sandbox.reset(None)
    floors.append(floor(sandbox.base_url, n, sandbox.verify))
    out["floor_runs"] = floors
    out["floor_per_s"] = sum(floors) / len(floors)
    runner.phase("schema", db="sqlite")  # back to WAL for what follows
    return out
