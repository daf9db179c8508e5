#!/usr/bin/env python
"""The Performance page's figures (``docs/performance.rst``), built from one results file
of ``bench/bench.py``.

    python bench/readme.py [RESULTS.json] [--file docs/performance.rst] [--check]

Rewrites what lies between the two markers ::

    .. bench-results: begin
    .. bench-results: end

in ``--file`` (default ``docs/performance.rst``) with reStructuredText tables of every figure the
results file holds, and names that file, so that a figure on the page is a figure of one
run. A page may hold several such blocks (a full run, and a run of the send engine's
targets at 20,000 messages), each naming its own file. ``RESULTS`` (the first block only)
defaults to the file the block names, else the newest of ``bench/results/``. ``--check``
changes nothing and exits 1 if the page differs from what the results files give
(``tests/test_readme_bench.py`` runs it).
"""

# The page writes the multiplication sign and the en dash; they are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import argparse
import math
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # ``python bench/readme.py``: import the package, not this file
    ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench.report import cell_floor
from bench.results import RESULTS_DIR, ROOT, load

BEGIN = ".. bench-results: begin"
END = ".. bench-results: end"
TABLE = "\0"
WIDTH = 90
SOURCE = re.compile(r"^Results file: ``(?P<path>[^`]+)``", re.MULTILINE)


def num(value: Any) -> str:
    """A figure as the page shows it: three significant digits, thousands separated."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}"


def rst_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A simple reStructuredText table (cells as :func:`num` writes them)."""
    cells = [list(headers)] + [[c if isinstance(c, str) else num(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    rule = " ".join("=" * w for w in widths)

    def line(row: list[str]) -> str:
        return " ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    # Marked so that render() leaves table lines as they are and wraps only the prose.
    rows_out = [rule, line(cells[0]), rule, *[line(r) for r in cells[1:]], rule]
    return [TABLE + row for row in rows_out]


def _heading(results: dict[str, Any], source: str) -> list[str]:
    m, p = results["machine"], results["params"]
    dbs = f"SQLite {m.get('sqlite', '?')}"
    if m.get("postgresql"):
        dbs += f", PostgreSQL {m['postgresql']}"
    load = ", ".join(num(x) for x in m.get("load_average") or [])
    return [
        f"Results file: ``{source}``",
        "",
        f"One run of ``python {results['command']}`` on {results['date'][:10]} at commit "
        f"``{results['commit']}``{' (with local changes)' if results.get('commit_dirty') else ''}:"
        f" {m['cpus']} cores, {num(m.get('memory_gb'))} GB, load average {load} at the start "
        f"(the machine is shared, so timings move by ±30 % between runs; the counts do not), "
        f"Python {m['python']}, Django {m['django']}, {dbs}; loopback, the app's database "
        f"{p['db']}.",
        "",
    ]


def _main_table(results: dict[str, Any]) -> list[str]:
    seed, floor, app = results.get("seed"), results.get("floor"), results.get("app")
    if not (seed and floor and app):
        return []
    n = results["params"]["n"]
    s, f = seed["per_s"], floor["per_s"]
    rows = []
    for label, rate, counts, q in (
        ("seed pattern (login + POST, new connection)", s, seed["sandbox"], None),
        ("floor (one session, no DB)", f, floor["sandbox"], None),
        (
            "app, ``flush_queue``, default ``CONCURRENCY``",
            app["flush"]["per_s"],
            app["sandbox"],
            app["flush"]["queries_per_msg"],
        ),
    ):
        rows.append(
            [label, rate, rate / f, rate / s, counts["total_requests"] / n, counts["logins"], q]
        )
    out = [
        f"Zero latency, N = {n:,}:",
        "",
        *rst_table(
            ["Run", "msg/s", "× floor", "× seed", "HTTP req/msg", "logins", "DB q/msg"], rows
        ),
        "",
    ]
    create = app.get("create", {})
    if create.get("via_queue_sms"):
        out += [
            f"Creating the messages with ``queue_sms``: {num(create['queue_sms_per_s'])} "
            f"msg/s, {num(create['queue_sms_queries_per_msg'])} queries per message.",
            "",
        ]
    lat = results.get("with_latency")
    if lat and "app" in lat:
        ls, lf, la = lat["seed"], lat["floor"], lat["app"]
        out += [
            f"With {lat['latency']} ms of gateway latency (N = {lat['n']}):",
            "",
            *rst_table(
                ["Run", "msg/s", "× floor", "× seed"],
                [
                    ["seed pattern", ls, ls / lf, 1.0],
                    ["floor", lf, 1.0, lf / ls],
                    ["app, ``flush_queue``", la, la / lf, la / ls],
                ],
            ),
            "",
        ]
    return out


def _scale(results: dict[str, Any]) -> list[str]:
    out = []
    scale = results.get("scale", {})
    if len(scale) == 2:
        (s1, r1), (s2, r2) = scale.items()
        f1, f2 = r1["flush"], r2["flush"]
        marginal = (f2["queries"] - f1["queries"]) / (f2["n"] - f1["n"])
        out.append(
            f"* Queries per message do not grow with N: {num(f1['queries_per_msg'])} at "
            f"N = {s1}, {num(f2['queries_per_msg'])} at N = {s2} ({num(marginal)} per "
            f"message plus a fixed {num(f1['queries'] - marginal * f1['n'])} per flush); "
            f"tracemalloc peak {num(f1['tracemalloc_peak_mb'])} MB and "
            f"{num(f2['tracemalloc_peak_mb'])} MB."
        )
    big = results.get("big")
    if big:
        out.append(
            f"* One message to {big['recipients']:,} recipients: "
            f"{big['sandbox']['posts_total']} POSTs (``MAX_RECIPIENTS_PER_ORDER`` = "
            f"{big['max_recipients_per_order']:,}), {big['send_queries']} queries and "
            f"{num(big['send_seconds'])} s to send, {num(big['create_seconds'])} s to queue."
        )
    return [*out, ""] if out else []


def _sweep(results: dict[str, Any]) -> list[str]:
    rows = results.get("sweep")
    out: list[str] = []
    if rows:
        table = []
        for row in rows:
            lat = row["latency_ms"]
            for c in row["cells"]:
                floor = cell_floor(row, c)
                limit = c["k"] / (lat / 1000) if lat else None
                table.append(
                    [
                        f"{lat} ms",
                        floor,
                        c["k"],
                        c["n"],
                        c["per_s"],
                        c["per_s"] / floor,
                        c["per_s"] / limit if limit else None,
                        c["queries_per_msg"],
                        c["logins"],
                        c["rss_peak_mb"],
                        c["exactly_once"],
                    ]
                )
        out += [
            "Latency × ``CONCURRENCY``, one ``flush_queue`` process, SQLite WAL (*floor*: one "
            "keep-alive session, no database, measured right before and after each cell at zero "
            "latency, before and after each row under latency; *K/L*: the "
            "physical limit of K connections at latency L; *once*: every order POSTed "
            "exactly once):",
            "",
            *rst_table(
                [
                    "latency",
                    "floor/s",
                    "K",
                    "N",
                    "msg/s",
                    "× floor",
                    "× K/L",
                    "q/msg",
                    "logins",
                    "RSS MB",
                    "once",
                ],
                table,
            ),
            "",
        ]
    journal = results.get("journal")
    if journal:
        floor = journal["floor_per_s"]
        out += [
            f"SQLite journal modes at zero latency (N = {journal['n']}, floor {num(floor)} "
            "msg/s):",
            "",
            *rst_table(
                ["journal", "K", "msg/s", "× floor", "q/msg"],
                [
                    [mode, c["k"], c["per_s"], c["per_s"] / floor, c["queries_per_msg"]]
                    for mode in ("wal", "delete")
                    for c in journal[mode]
                ],
            ),
            "",
        ]
    return out


def _tls(results: dict[str, Any]) -> list[str]:
    tls = results.get("tls")
    if not tls or "skipped" in tls:
        return []
    plain = {
        "seed": results.get("seed", {}).get("per_s"),
        "floor": results.get("floor", {}).get("per_s"),
        "app": (results.get("app") or {}).get("flush", {}).get("per_s"),
    }
    rates = {
        "seed": tls["seed"]["per_s"],
        "floor": tls["floor"]["per_s"],
        "app": tls["app"]["flush"]["per_s"],
    }
    rows = [
        [label, plain[key], rates[key], rates[key] / rates["floor"], rates[key] / rates["seed"]]
        for key, label in (("seed", "seed pattern"), ("floor", "floor"), ("app", "app"))
    ]
    lat = tls.get("with_latency")
    if lat:
        plain_lat = results.get("with_latency", {})
        ls, lf, la = lat["seed"], lat["floor"], lat["app"]
        rows += [
            [f"{lat['latency']} ms: seed", plain_lat.get("seed"), ls, ls / lf, 1.0],
            [f"{lat['latency']} ms: floor", plain_lat.get("floor"), lf, 1.0, lf / ls],
            [f"{lat['latency']} ms: app", plain_lat.get("app"), la, la / lf, la / ls],
        ]
    return [
        f"Over TLS (the sandbox serves HTTPS with a throwaway certificate that every client "
        f"verifies; N = {tls['n']} at zero latency; the HTTP column is the plain runs above):",
        "",
        *rst_table(["Run", "HTTP msg/s", "HTTPS msg/s", "× floor (TLS)", "× seed (TLS)"], rows),
        "",
    ]


def _others(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    conc = results.get("concurrency")
    if conc:
        runs = conc["runs"]
        out += [
            f"``flush_queue`` in W processes on {conc['db']}, {conc['latency']} ms latency, "
            f"{runs[0]['n']} messages:",
            "",
            *rst_table(
                ["workers", "msg/s", "speed-up", "logins", "exactly once"],
                [
                    [
                        r["workers"],
                        r["per_s"],
                        r["per_s"] / runs[0]["per_s"],
                        r["sandbox"]["logins"],
                        r["verify"]["ok"],
                    ]
                    for r in runs
                ],
            ),
            "",
        ]
    admin = results.get("admin")
    if admin and "pages" in admin:
        out += [
            f"Admin changelist on {admin['rows']:,} messages ({admin['vendor']}):",
            "",
            *rst_table(
                ["request", "queries", "ms"],
                [[label, r["queries"], r["ms"]] for label, r in admin["pages"].items()],
            ),
            "",
        ]
    rq = results.get("rq")
    if rq and "runs" in rq:
        out += [
            f"RQ (django-tasks-rq), {results['params']['concurrency_latency']} ms latency:",
            "",
            *rst_table(
                ["worker class", "workers", "N", "msg/s", "logins", "exactly once"],
                [
                    [
                        f"``{r['worker_class']}``",
                        r["workers"],
                        r["n"],
                        r["per_s"],
                        r["sandbox"]["logins"],
                        r["verify"]["ok"],
                    ]
                    for r in rq["runs"]
                ],
            ),
            "",
        ]
    bulk = results.get("bulk")
    if bulk:
        out += [
            f"Queueing {bulk['n']:,} one-recipient messages ({bulk.get('vendor', 'sqlite')}):",
            "",
            *rst_table(
                ["API", "ms/msg", "queries/msg", "× less time"],
                [
                    [
                        "``queue_sms``, one call each",
                        bulk["queue_sms_ms_per_msg"],
                        bulk["queue_sms_queries_per_msg"],
                        1.0,
                    ],
                    [
                        f"``queue_many``, batches of {bulk['batch_size']}",
                        bulk["queue_many_ms_per_msg"],
                        bulk["queue_many_queries_per_msg"],
                        bulk["ratio"],
                    ],
                ],
            ),
            "",
        ]
    validation = results.get("validation")
    if validation:
        out += [
            f"Validating {validation['n']:,} recipients: plain numbers "
            f"{num(validation['plain_seconds'])} s, personalised maps "
            f"{num(validation['maps_seconds'])} s ({num(validation['ratio'])} ×).",
            "",
        ]
    return out


def _rss(results: dict[str, Any]) -> list[str]:
    rss = results.get("rss")
    if not rss or not rss.get("cells"):
        return []
    cells = rss["cells"]
    peaks = ", ".join(
        f"{num(c['rss_peak_mb'])} MB at {c['n']:,} messages ({num(c['rss_x_first'])} ×)"
        for c in cells
    )
    return [
        f"Peak RSS of one flush process against N (K = {rss['k']}, "
        f"{rss['latency_ms']} ms, ``VmHWM``): {peaks}.",
        "",
    ]


def render(results: dict[str, Any], source: str) -> str:
    """The block between the markers (without them) for ``results`` read from ``source``."""
    lines = _heading(results, source)
    for part in (_main_table, _scale, _sweep, _rss, _tls, _others):
        lines += part(results)
    out: list[str] = []
    for line in lines:
        if line.startswith(TABLE):
            out.append(line[len(TABLE) :])
        elif line.startswith("* "):
            out += textwrap.wrap(line, WIDTH, subsequent_indent="  ", break_on_hyphens=False)
        else:
            out += textwrap.wrap(line, WIDTH, break_on_hyphens=False) or [""]
    return "\n".join(out).rstrip() + "\n"


def spans(text: str) -> list[tuple[int, int]]:
    """Where each block's content lies: from the end of a begin marker to its end marker."""
    out: list[tuple[int, int]] = []
    at = 0
    while (start := text.find(BEGIN, at)) != -1:
        end = text.index(END, start)
        out.append((start + len(BEGIN), end))
        at = end + len(END)
    return out


def replace_block(text: str, block: str, index: int = 0) -> str:
    """``text`` with the content of its ``index``-th block replaced by ``block``."""
    start, end = spans(text)[index]
    return text[:start] + "\n\n" + block + "\n" + text[end:]


def named_source(text: str, index: int = 0) -> str | None:
    """The results file the ``index``-th block names, if any."""
    start, end = spans(text)[index]
    found = SOURCE.search(text[start:end])
    return found.group("path") if found else None


def rebuild(text: str, first: str | None = None) -> tuple[str, list[str]]:
    """``text`` with every block rebuilt from the results file it names (the first block
    from ``first`` when given), and those files, relative to the repository."""
    shown: list[str] = []
    for index in range(len(spans(text))):
        source = (first if index == 0 else None) or named_source(text, index)
        if source is None:
            source = str(newest().relative_to(ROOT))
        path = Path(source) if Path(source).is_absolute() else ROOT / source
        name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        text = replace_block(text, render(load(path), name), index)
        shown.append(name)
    return text, shown


def newest() -> Path:
    files = sorted(RESULTS_DIR.glob("*.json"))
    if not files:
        raise SystemExit("no results file in bench/results/: run python bench/bench.py first")
    return files[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", help="a results file (default: see above)")
    parser.add_argument(
        "--file", default=str(ROOT / "docs" / "performance.rst"), help="the page to update"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the page differs")
    args = parser.parse_args(argv)
    page = Path(args.file)
    text = page.read_text()
    updated, shown = rebuild(text, args.results)
    names = " and ".join(shown)
    if args.check:
        if updated != text:
            print(f"{page} does not show the figures of {names}: run python bench/readme.py")
            return 1
        return 0
    page.write_text(updated)
    print(f"{page}: the figures of {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
