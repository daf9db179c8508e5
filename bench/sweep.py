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

from bench.report import Target


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
        sandbox.reset(latency)
        floor_size = fixed_n or floor_n(latency_ms, zero_n)
        before = floor(sandbox.base_url, floor_size, sandbox.verify)
        row: dict[str, Any] = {"latency_ms": latency_ms, "cells": []}
        for k in concurrencies:
            n = cell_n(latency_ms, k, zero_n, quick, fixed_n)
            row["cells"].append(flush_cell(runner, sandbox, n, k, latency, {}))
        # The floor before and after the row's cells, averaged: on a shared machine the
        # zero-latency figures move by 2x within a minute.
        sandbox.reset(latency)
        after = floor(sandbox.base_url, floor_size, sandbox.verify)
        row["floor_runs"] = [before, after]
        row["floor_per_s"] = (before + after) / 2
        rows.append(row)
    return rows


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


def render_sweep(results: dict[str, Any]) -> tuple[list[str], list[Target]]:
    lines: list[str] = []
    targets: list[Target] = []
    rows = results.get("sweep")
    if rows:
        lines.append(
            "\nlatency x CONCURRENCY (one flush_queue process, SQLite WAL, one login shared):"
        )
        lines.append(
            "  latency  floor/s   K   N     msg/s  x floor  x K/L   q/msg  logins  RSS MB  "
            "+flush  once"
        )
        for row in rows:
            lat, floor = row["latency_ms"], row["floor_per_s"]
            for cell in row["cells"]:
                limit = cell["k"] / (lat / 1000) if lat else None
                x_limit = f"{cell['per_s'] / limit:6.2f}" if limit else "     -"
                lines.append(
                    f"  {lat:4d} ms {floor:8.1f} {cell['k']:3d} {cell['n']:4d} "
                    f"{cell['per_s']:8.1f} {cell['per_s'] / floor:7.2f}  {x_limit} "
                    f"{cell['queries_per_msg']:6.3f} {cell['logins']:6d} "
                    f"{cell['rss_peak_mb']:7.1f} {cell.get('rss_growth_mb', 0):6.1f}  "
                    f"{'yes' if cell['exactly_once'] else 'NO'}"
                )
        by = {(r["latency_ms"], c["k"]): (c, r["floor_per_s"]) for r in rows for c in r["cells"]}
        if (40, 8) in by:
            cell, floor = by[(40, 8)]
            ratio = cell["per_s"] / floor
            targets.append(
                (
                    "40 ms, CONCURRENCY 8: >= 6 x single-connection floor",
                    ratio >= 6,
                    f"{ratio:.2f} x ({cell['per_s']:.0f} vs {floor:.0f} msg/s; "
                    f"{cell['per_s'] / 200:.0%} of K/L = 200)",
                )
            )
        worst_q = max(c["queries_per_msg"] for r in rows for c in r["cells"] if c["k"] > 1)
        targets.append(
            ("queries per message <= 1.5 (CONCURRENCY > 1)", worst_q <= 1.5, f"max {worst_q:.3f}")
        )
        once = all(c["exactly_once"] for r in rows for c in r["cells"])
        targets.append(("sweep: every order POSTed exactly once", once, ""))
    journal = results.get("journal")
    if journal:
        floor = journal["floor_per_s"]
        lines.append(
            f"\nSQLite journal modes, zero latency, N={journal['n']} (bare keep-alive floor "
            f"{floor:.0f} msg/s, mean of {', '.join(f'{f:.0f}' for f in journal['floor_runs'])}):"
        )
        for mode in ("wal", "delete"):
            for cell in journal[mode]:
                lines.append(
                    f"  {mode:6s} K={cell['k']:2d}  {cell['per_s']:7.1f} msg/s  "
                    f"{cell['per_s'] / floor:5.2f} x floor  {cell['queries_per_msg']:.3f} q/msg"
                )
        best = max(cell["per_s"] for cell in journal["wal"])
        targets.append(
            (
                "zero latency, SQLite WAL: >= 0.6 x bare keep-alive floor",
                best / floor >= 0.6,
                f"{best / floor:.2f} x ({best:.0f} vs {floor:.0f} msg/s)",
            )
        )
    return lines, targets
