"""Turns the measurements of ``bench/bench.py`` into tables and PASS/MISS lines.

Nothing here asserts: a missed target is printed as ``MISS`` with the numbers behind it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Target = tuple[str, bool | None, str]


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [list(headers), *[[fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for k, row in enumerate(cells):
        padded = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(padded).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "MISS")


def verify_text(v: dict[str, Any]) -> str:
    if v["ok"]:
        return f"ok ({v['posted_once']} orders, 1 POST each)"
    return (
        f"BROKEN: {v['posted_more_than_once']} posted twice, {v['never_posted']} never, "
        f"{v['posts_for_unknown_orders']} unknown, {v['not_final']} not final"
    )


def _over(results: dict[str, Any]) -> str:
    """`` over TLS`` when the whole run was against the HTTPS sandbox (``--tls``)."""
    return " over TLS" if results["params"].get("tls") else ""


def _per_msg(run: dict[str, Any]) -> float:
    return run["sandbox"]["total_requests"] / run["flush"]["n"]


def _main_table(results: dict[str, Any]) -> tuple[list[str], list[Target]]:
    p = results["params"]
    n = p["n"]
    seed = results.get("seed", {}).get("per_s")
    floor = results.get("floor", {}).get("per_s")
    app = results.get("app")
    rows: list[list[Any]] = []

    def row(label: str, rate: float, run: dict[str, Any], n: int, **extra: Any) -> None:
        # tracemalloc halves the speed: no ratio for those rows, they are about memory.
        compare = extra.get("traced") is None
        rows.append(
            [
                label,
                rate,
                rate / floor if floor and compare else None,
                rate / seed if seed and compare else None,
                run["sandbox"]["total_requests"] / n,
                run["sandbox"]["logins"],
                extra.get("queries"),
                extra.get("rss"),
                extra.get("traced"),
            ]
        )

    if seed:
        row("A seed: login+POST per msg, new conns", seed, results["seed"], n)
    if floor:
        row("B floor: 1 Session, 1 login, no DB", floor, results["floor"], n)
    runs = [(f"app: flush_queue ({app['flush']['vendor']}, 1 process)", app)] if app else []
    runs += [(f"app N={size}, tracemalloc on", r) for size, r in results.get("scale", {}).items()]
    for label, run in runs:
        f = run["flush"]
        row(
            label,
            f["per_s"],
            run,
            f["n"],
            queries=f["queries_per_msg"],
            rss=f["rss_peak_mb"],
            traced=f.get("tracemalloc_peak_mb"),
        )
    out: list[str] = []
    if rows:
        headers = ["run", "msg/s", "x floor", "x seed", "HTTP req/msg", "logins", "DB q/msg"]
        out.append(table([*headers, "RSS MB", "tracemalloc MB"], rows))
    targets: list[Target] = []
    if app:
        f, c = app["flush"], app["create"]
        out.append(f"\napp flush queries by verb: {f['by_verb']}; client stats: {f['client']}")
        if c.get("via_queue_sms"):
            out.append(
                f"queue_sms (creating): {c['queue_sms_per_s']:.0f} msg/s, "
                f"{c['queue_sms_queries_per_msg']:.1f} queries/msg {c['queue_sms_by_verb']}"
            )
        rate = f["per_s"]
        if floor:
            ok = rate >= 0.8 * floor if p["latency_ms"] in ("0", "") else None
            targets.append(
                (
                    f"app >= 0.8 x floor (no latency, 1 worker){_over(results)}",
                    ok,
                    f"{rate / floor:.2f} x",
                )
            )
        if seed:
            targets.append(
                (
                    f"app >= 2 x seed (no latency){_over(results)}",
                    rate >= 2 * seed,
                    f"{rate / seed:.2f} x",
                )
            )
        bound = 1 + app["sandbox"]["logins"] / f["n"]
        targets.append(
            (
                "HTTP requests/msg <= 1 + logins/N",
                _per_msg(app) <= bound + 1e-9,
                f"{_per_msg(app):.4f} vs {bound:.4f}",
            )
        )
        targets.append(("exactly once (app run)", app["verify"]["ok"], verify_text(app["verify"])))
    return out, targets


def _latency_section(results: dict[str, Any]) -> tuple[list[str], list[Target]]:
    lat = results.get("with_latency")
    if not lat or "app" not in lat:
        return [], []
    seed, floor, app = lat["seed"], lat["floor"], lat["app"]
    over = _over(results)
    out = [
        f"\nthe same with sandbox latency {lat['latency']} ms{over} (N={lat['n']}):",
        table(
            ["run", "msg/s", "x floor", "x seed"],
            [
                ["A seed", seed, seed / floor, 1.0],
                ["B floor", floor, 1.0, floor / seed],
                ["app: flush_queue", app, app / floor, app / seed],
            ],
        ),
    ]
    targets: list[Target] = [
        (
            f"app >= 0.8 x floor (latency {lat['latency']} ms){over}",
            app >= 0.8 * floor,
            f"{app / floor:.2f} x",
        ),
        (
            f"app >= 2 x seed (latency {lat['latency']} ms){over}",
            app >= 2 * seed,
            f"{app / seed:.2f} x",
        ),
    ]
    return out, targets


def _tls_section(results: dict[str, Any]) -> tuple[list[str], list[Target]]:
    """A, B and the app against the HTTPS sandbox, next to the plain-HTTP figures."""
    tls = results.get("tls")
    if not tls:
        return [], []
    if "skipped" in tls:
        return [f"\nover TLS: not measured: {tls['skipped']}"], []
    plain = {
        "seed": results.get("seed", {}).get("per_s"),
        "floor": results.get("floor", {}).get("per_s"),
        "app": (results.get("app") or {}).get("flush", {}).get("per_s"),
    }
    seed, floor = tls["seed"]["per_s"], tls["floor"]["per_s"]
    app_run = tls["app"]
    app = app_run["flush"]["per_s"]
    ca = "certifi + sandbox cert" if tls.get("ca", "certifi") == "certifi" else "sandbox cert"
    labels = {
        "seed": "A seed: login+POST per msg, new conns",
        "floor": "B floor: 1 Session, 1 login, no DB",
        "app": "app: flush_queue",
    }
    runs = {"seed": tls["seed"], "floor": tls["floor"], "app": app_run}
    rates = {"seed": seed, "floor": floor, "app": app}
    rows = [
        [
            labels[key],
            plain[key],
            rates[key],
            rates[key] / floor,
            rates[key] / seed,
            runs[key]["sandbox"]["total_requests"] / tls["n"],
            runs[key]["sandbox"]["logins"],
        ]
        for key in ("seed", "floor", "app")
    ]
    out = [
        f"\nover TLS (HTTPS sandbox, self-signed RSA 2048 certificate verified against "
        f"{ca}), no latency, N={tls['n']}; HTTP msg/s: the plain runs above, "
        f"N={results['params']['n']}:",
        table(
            ["run", "HTTP msg/s", "HTTPS msg/s", "x floor", "x seed", "HTTP req/msg", "logins"],
            rows,
        ),
    ]
    targets: list[Target] = [
        ("app >= 0.8 x floor (no latency) over TLS", app >= 0.8 * floor, f"{app / floor:.2f} x"),
        ("app >= 2 x seed (no latency) over TLS", app >= 2 * seed, f"{app / seed:.2f} x"),
        (
            "exactly once (app run over TLS)",
            app_run["verify"]["ok"],
            verify_text(app_run["verify"]),
        ),
    ]
    lat = tls.get("with_latency")
    if lat:
        plain_lat = results.get("with_latency", {})
        ls, lf, la = lat["seed"], lat["floor"], lat["app"]
        out += [
            f"\nover TLS with sandbox latency {lat['latency']} ms (N={lat['n']}); "
            "the latency is added per request, not per handshake round trip:",
            table(
                ["run", "HTTP msg/s", "HTTPS msg/s", "x floor", "x seed"],
                [
                    ["A seed", plain_lat.get("seed"), ls, ls / lf, 1.0],
                    ["B floor", plain_lat.get("floor"), lf, 1.0, lf / ls],
                    ["app: flush_queue", plain_lat.get("app"), la, la / lf, la / ls],
                ],
            ),
        ]
        targets += [
            (
                f"app >= 0.8 x floor (latency {lat['latency']} ms) over TLS",
                la >= 0.8 * lf,
                f"{la / lf:.2f} x",
            ),
            (
                f"app >= 2 x seed (latency {lat['latency']} ms) over TLS",
                la >= 2 * ls,
                f"{la / ls:.2f} x",
            ),
        ]
    return out, targets


def _scale_targets(results: dict[str, Any]) -> list[Target]:
    scale = results.get("scale", {})
    if len(scale) != 2:
        return []
    (s1, r1), (s2, r2) = scale.items()
    f1, f2 = r1["flush"], r2["flush"]
    # queries = marginal x N + fixed: constant per message when the fixed part (the queue's
    # page queries) is small and the marginal cost is a whole number of queries.
    marginal = (f2["queries"] - f1["queries"]) / (f2["n"] - f1["n"])
    fixed = f1["queries"] - marginal * f1["n"]
    q_ok = 0 <= fixed <= 10 and abs(marginal - round(marginal)) < 0.01
    m1, m2 = f1["tracemalloc_peak_mb"], f2["tracemalloc_peak_mb"]
    return [
        (
            f"DB queries/msg constant in N ({s1} vs {s2})",
            q_ok,
            f"{f1['queries_per_msg']:.3f} vs {f2['queries_per_msg']:.3f}/msg = "
            f"{marginal:.2f} per message + {fixed:.0f} per flush",
        ),
        (
            f"memory flat in N ({s1} vs {s2}, tracemalloc peak)",
            m2 <= 1.2 * m1 + 0.25,
            f"{m1:.2f} MB vs {m2:.2f} MB; "
            f"RSS {f1['rss_peak_mb']:.0f} vs {f2['rss_peak_mb']:.0f} MB",
        ),
    ]


def _big_targets(results: dict[str, Any]) -> list[Target]:
    big = results.get("big")
    if not big:
        return []
    expected = math.ceil(big["recipients"] / big["max_recipients_per_order"])
    posts = big["sandbox"]["posts_total"]
    return [
        (
            f"{big['recipients']:,} recipients = ceil(N/{big['max_recipients_per_order']}) POSTs",
            posts == expected and big["status"] == "sent",
            f"{posts} POSTs (expected {expected}), {big['sandbox']['total_requests']} requests, "
            f"{big['send_queries']} queries and {big['send_seconds']:.2f} s to send, "
            f"queue_sms {big['create_seconds']:.2f} s",
        )
    ]


def _concurrency_section(results: dict[str, Any]) -> tuple[list[str], list[Target]]:
    conc = results.get("concurrency")
    if not conc:
        return [], []
    runs = conc["runs"]
    base = runs[0]["per_s"]
    out = [
        f"\nconcurrency: {runs[0]['n']} messages, sandbox latency {conc['latency']} ms, "
        f"{conc['db']}, flush_queue in W processes",
        table(
            [
                "workers",
                "msg/s",
                "speed-up",
                "seconds",
                "logins",
                "HTTP req/msg",
                "lost claims",
                "exactly once",
            ],
            [
                [
                    r["workers"],
                    r["per_s"],
                    r["per_s"] / base,
                    r["seconds"],
                    r["sandbox"]["logins"],
                    r["sandbox"]["total_requests"] / r["n"],
                    r["skipped"],
                    verify_text(r["verify"]),
                ]
                for r in runs
            ],
        ),
    ]
    detail = ", ".join(f"{r['workers']}w: {'ok' if r['verify']['ok'] else 'BROKEN'}" for r in runs)
    ok = all(r["verify"]["ok"] for r in runs)
    return out, [("exactly once under concurrency (every run)", ok, detail)]


def _admin_section(results: dict[str, Any]) -> tuple[list[str], list[Target]]:
    admin = results.get("admin")
    if not admin:
        return [], []
    if "error" in admin:
        return [f"\nadmin: not measured: {admin['error']}"], []
    rows = []
    for label, r in admin["pages"].items():
        slowest = r["slowest_sql"][0] if r["slowest_sql"] else None
        text = f"{slowest['ms']} ms: {slowest['sql'][:60]}" if slowest else ""
        rows.append([label, r["status"], r["queries"], r["ms"], r["rows_shown"], text])
    out = [
        f"\nadmin changelist: {admin['rows']:,} messages, {admin['per_page']} per page, "
        f"{admin['vendor']} (bulk insert {admin['create_seconds']:.1f} s)",
        table(["request", "HTTP", "queries", "ms", "rows shown", "slowest query"], rows),
    ]
    pages = list(admin["pages"].values())
    ok = pages[0]["queries"] == pages[1]["queries"]
    detail = f"{pages[0]['queries']} vs {pages[1]['queries']}"
    return out, [("admin: queries do not grow with the page (page 1 vs last)", ok, detail)]


def _rq_section(results: dict[str, Any]) -> tuple[list[str], list[Target]]:
    rq = results.get("rq")
    if not rq:
        return [], []
    if "runs" not in rq:
        return [f"\nRQ: not measured: {rq.get('skipped') or rq.get('error')}"], []
    runs = rq["runs"]
    out = [
        "\nRQ (django-tasks-rq + django-rq): queue_sms enqueues send_message_task on commit; "
        f"sandbox latency {results['params']['concurrency_latency']} ms; PostgreSQL",
        table(
            [
                "worker class",
                "workers",
                "N",
                "msg/s",
                "enqueue s",
                "logins",
                "HTTP req/msg",
                "exactly once",
            ],
            [
                [
                    r["worker_class"],
                    r["workers"],
                    r["n"],
                    r["per_s"],
                    r["enqueue_seconds"],
                    r["sandbox"]["logins"],
                    r["sandbox"]["total_requests"] / r["n"],
                    verify_text(r["verify"]),
                ]
                for r in runs
            ],
        ),
        "(msg/s: from the first enqueue until every message is final)",
    ]
    detail = ", ".join(
        f"{r['worker_class'].rsplit('.', 1)[1]}: {'ok' if r['verify']['ok'] else 'BROKEN'}"
        for r in runs
    )
    return out, [("exactly once on RQ (every run)", all(r["verify"]["ok"] for r in runs), detail)]


def cell_floor(row: dict[str, Any], cell: dict[str, Any]) -> float:
    """The floor a sweep cell is compared with: its own (zero latency: measured right
    before and after it), else its row's."""
    return float(cell.get("floor_per_s") or row["floor_per_s"])


def engine_targets(by: dict[tuple[int, int], tuple[dict[str, Any], float]]) -> list[Target]:
    """The send engine's targets on the cells this sweep ran (issue 20, item 10): from
    20,000 messages up, >= 0.9 x K/L at 40 ms for K = 8 and 16 (>= 0.8 below that), and
    >= 0.9 x the single-connection floor at zero latency with K = 8."""
    out: list[Target] = []
    for k in (8, 16):
        if (40, k) in by:
            cell, _floor = by[(40, k)]
            want = 0.9 if cell["n"] >= 20_000 else 0.8
            ratio = cell["per_s"] / (k / 0.040)
            out.append(
                (
                    f"40 ms, CONCURRENCY {k}, N={cell['n']}: >= {want} x K/L",
                    ratio >= want,
                    f"{ratio:.2f} x ({cell['per_s']:.0f} of {k / 0.040:.0f} msg/s)",
                )
            )
    if (0, 8) in by:
        cell, floor = by[(0, 8)]
        ratio = cell["per_s"] / floor
        out.append(
            (
                f"0 ms, CONCURRENCY 8, N={cell['n']}: >= 0.9 x single-connection floor",
                ratio >= 0.9,
                f"{ratio:.2f} x ({cell['per_s']:.0f} vs {floor:.0f} msg/s)",
            )
        )
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
            lat = row["latency_ms"]
            for cell in row["cells"]:
                floor = cell_floor(row, cell)
                limit = cell["k"] / (lat / 1000) if lat else None
                x_limit = f"{cell['per_s'] / limit:6.2f}" if limit else "     -"
                lines.append(
                    f"  {lat:4d} ms {floor:8.1f} {cell['k']:3d} {cell['n']:4d} "
                    f"{cell['per_s']:8.1f} {cell['per_s'] / floor:7.2f}  {x_limit} "
                    f"{cell['queries_per_msg']:6.3f} {cell['logins']:6d} "
                    f"{cell['rss_peak_mb']:7.1f} {cell.get('rss_growth_mb', 0):6.1f}  "
                    f"{'yes' if cell['exactly_once'] else 'NO'}"
                )
        by = {(r["latency_ms"], c["k"]): (c, cell_floor(r, c)) for r in rows for c in r["cells"]}
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
        targets += engine_targets(by)
        worst_q = max(c["queries_per_msg"] for r in rows for c in r["cells"] if c["k"] > 1)
        targets.append(
            ("queries per message <= 1.5 (CONCURRENCY > 1)", worst_q <= 1.5, f"max {worst_q:.3f}")
        )
        once = all(c["exactly_once"] for r in rows for c in r["cells"])
        targets.append(("sweep: every order POSTed exactly once", once, ""))
    rss = results.get("rss")
    if rss and rss["cells"]:
        first, last = rss["cells"][0], rss["cells"][-1]
        lines.append(
            f"\npeak RSS of one flush process against N (K={rss['k']}, "
            f"{rss['latency_ms']} ms, VmHWM):"
        )
        for cell in rss["cells"]:
            lines.append(
                f"  N={cell['n']:>7,}  {cell['rss_peak_mb']:6.1f} MB  "
                f"{cell['rss_x_first']:.2f} x N={first['n']:,}  {cell['per_s']:.0f} msg/s"
            )
        targets.append(
            (
                f"peak RSS at N={last['n']:,} <= 1.15 x that at N={first['n']:,}",
                last["rss_x_first"] <= 1.15,
                f"{last['rss_x_first']:.2f} x ({last['rss_peak_mb']:.1f} vs "
                f"{first['rss_peak_mb']:.1f} MB)",
            )
        )
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


def render_bulk(result: dict[str, Any]) -> tuple[list[str], list[Target]]:
    """``queue_sms`` vs ``queue_many`` (:mod:`bench.bulk`)."""
    ratio = result["ratio"]
    lines = [
        f"\nqueueing {result['n']:,} one-recipient messages ({result.get('vendor', 'sqlite')}):",
        table(
            ["API", "ms/msg", "queries/msg"],
            [
                [
                    "queue_sms, one call each",
                    result["queue_sms_ms_per_msg"],
                    result["queue_sms_queries_per_msg"],
                ],
                [
                    f"queue_many, batches of {result['batch_size']}",
                    result["queue_many_ms_per_msg"],
                    result["queue_many_queries_per_msg"],
                ],
            ],
        ),
    ]
    target = (
        "queue_many: >= 10 x less time per message than queue_sms",
        ratio >= 10,
        f"{ratio:.1f} x",
    )
    return lines, [target]


def render_validation(result: dict[str, Any]) -> tuple[list[str], list[Target]]:
    """Personalised maps vs plain numbers (:mod:`bench.validation`)."""
    ratio = result["ratio"]
    lines = [
        f"\nvalidating {result['n']:,} recipients: plain numbers {result['plain_seconds']:.2f} s, "
        f"personalised maps {result['maps_seconds']:.2f} s"
    ]
    target = (
        f"validation: {result['n']:,} maps within 2 x the plain numbers' time",
        ratio <= 2,
        f"{ratio:.2f} x",
    )
    return lines, [target]


def _part_sections(results: dict[str, Any]) -> tuple[list[str], list[Target]]:
    lines: list[str] = []
    targets: list[Target] = []
    for key, section in (("bulk", render_bulk), ("validation", render_validation)):
        if key in results:
            found_lines, found = section(results[key])
            lines += found_lines
            targets += found
    return lines, targets


def render(results: dict[str, Any], notes: list[str]) -> str:
    """The whole report: tables first, then one PASS/MISS line per target."""
    p, m = results["params"], results["machine"]
    out = [
        f"\ndjango-smsrest benchmark: N={p['n']}, latency {p['latency_ms']} ms, db {p['db']}, "
        f"{m['cpus']} CPUs, Python {m['python']}, Django {m.get('django', '?')}"
        f"{', every run over TLS (HTTPS sandbox)' if p.get('tls') else ''}\n"
    ]
    targets: list[Target] = []
    for section in (_main_table, _latency_section, _tls_section):
        lines, found = section(results)
        out += lines
        targets += found
    targets += _scale_targets(results) + _big_targets(results)
    for section in (
        render_sweep,
        _concurrency_section,
        _admin_section,
        _rq_section,
        _part_sections,
    ):
        lines, found = section(results)
        out += lines
        targets += found
    if "profile" in results:
        out.append(
            "\ncProfile of flush_queue (top by own time):\n" + results["profile"]["profile_top"]
        )
    out += format_targets(targets)
    out += [f"note: {note}" for note in notes]
    return "\n".join(out)


def format_targets(targets: list[Target]) -> list[str]:
    """One PASS/MISS line per target under a ``targets`` heading (nothing if none)."""
    if not targets:
        return []
    width = max(len(t[0]) for t in targets)
    lines = ["\ntargets"]
    lines += [f"  {verdict(ok)}  {name.ljust(width)}  {detail}" for name, ok, detail in targets]
    return lines


def render_part(
    section: Callable[[dict[str, Any]], tuple[list[str], list[Target]]], result: dict[str, Any]
) -> str:
    """One part's lines and targets, for the scripts that run a part on its own."""
    lines, targets = section(result)
    return "\n".join([*lines, *format_targets(targets)]).strip("\n")
