"""Smoke run of ``bench/bench.py``: with tiny sizes it must still run end to end.

It starts its own sandbox and subprocesses on a temporary SQLite file (no PostgreSQL, no
Redis needed) and checks the counts the benchmark reports, never a time: one POST per
message plus one login, the exactly-once invariant, ten POSTs for 10,000 recipients. The
runs over TLS (part ``tls`` and ``--tls``) need a certificate tool and skip without one.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from django_smsrest.testing.sandbox import tls_unavailable_reason

ROOT = Path(__file__).resolve().parent.parent
NO_TLS = tls_unavailable_reason()

pytestmark = pytest.mark.slow


def run_bench(out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run ``bench/bench.py --quick ARGS --json OUT``; the process and its JSON results."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), "--quick", *args, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(out.read_text())


def test_bench_quick_run(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc, results = run_bench(
        out,
        "--n",
        "20",
        "--scale",
        "10,50",
        "--parts",
        "baselines,app,scale,big,concurrency,admin" + ("" if NO_TLS else ",tls"),
        "--tls-n",
        "6",
        "--latency-n",
        "4",
        "--workers",
        "1,2",
        "--concurrency-n",
        "12",
        "--concurrency-latency",
        "1-3",
        "--concurrency-db",
        "sqlite",
        "--admin-rows",
        "300",
    )
    assert "targets" in proc.stdout

    # The baselines: the seed logs in for every message, the floor once.
    assert results["seed"]["sandbox"]["logins"] == 20
    assert results["seed"]["sandbox"]["posts_total"] == 20
    assert results["floor"]["sandbox"]["logins"] == 1

    # The app: one login, one POST per message, every message sent exactly once.
    app = results["app"]
    assert app["flush"]["by_status"] == {"sent": 20}
    assert app["sandbox"]["logins"] == 1
    assert app["sandbox"]["requests"] == {"GET login": 1, "POST sms": 20}
    assert app["verify"]["ok"], app["verify"]

    # Queries per message do not grow with N: the marginal cost between the two sizes
    # (the default CONCURRENCY 4: a claim and a result write per 16 messages) stays
    # under the batch path's 1.5, and the fixed cost is small.
    small, large = results["scale"]["10"]["flush"], results["scale"]["50"]["flush"]
    per_message = (large["queries"] - small["queries"]) / 40
    assert per_message <= 1.5, per_message
    # Fixed: the claims' empty last look, the login codes' look before a claim, and the
    # result writes, which land within WRITE_WITHIN of each answer (more of them on a
    # slow machine).
    assert small["queries"] - per_message * 10 <= 30

    # A 10,000-recipient message is split into ceil(10000 / MAX_RECIPIENTS_PER_ORDER) POSTs.
    big = results["big"]
    assert big["status"] == "sent"
    expected = math.ceil(big["recipients"] / big["max_recipients_per_order"])
    assert big["sandbox"]["posts_total"] == expected == big["orders_in_db"]

    # Concurrent flushers: every order POSTed once, whatever the number of workers.
    runs = results["concurrency"]["runs"]
    assert [run["workers"] for run in runs] == [1, 2]
    for run in runs:
        assert run["verify"]["ok"], run["verify"]
        assert run["sandbox"]["posts_total"] == 12

    # The admin changelist renders (its query count is reported, not judged here).
    admin = results["admin"]
    assert "error" not in admin, admin
    assert all(page["status"] == 200 for page in admin["pages"].values())

    # Over TLS (a second, HTTPS sandbox): the seed still logs in per message, the floor and
    # the app once; the app's orders are POSTed exactly once.
    if NO_TLS:
        return
    tls = results["tls"]
    assert tls["seed"]["sandbox"]["logins"] == 6
    assert tls["seed"]["sandbox"]["posts_total"] == 6
    assert tls["floor"]["sandbox"]["logins"] == 1
    assert tls["app"]["sandbox"]["requests"] == {"GET login": 1, "POST sms": 6}
    assert tls["app"]["verify"]["ok"], tls["app"]["verify"]
    assert tls["with_latency"]["n"] == 4
    assert tls["with_latency"]["app_verify"]["ok"]
    assert "over TLS" in proc.stdout


def test_bench_sweep_and_journal(tmp_path: Path) -> None:
    """The latency x CONCURRENCY sweep and the journal comparison run end to end; counts
    only: one login per flush, one POST per message, the batch path's queries."""
    out = tmp_path / "bench.json"
    proc, results = run_bench(
        out,
        "--parts",
        "sweep,journal",
        "--sweep-latencies",
        "0,5",
        "--sweep-concurrency",
        "1,4",
        "--sweep-n",
        "12",
    )
    assert "latency x CONCURRENCY" in proc.stdout and "SQLite journal modes" in proc.stdout
    rows = results["sweep"]
    assert [row["latency_ms"] for row in rows] == [0, 5]
    for row in rows:
        assert [cell["k"] for cell in row["cells"]] == [1, 4]
        for cell in row["cells"]:
            assert cell["exactly_once"], cell
            assert (cell["logins"], cell["posts"], cell["n"]) == (1, 12, 12)
        one, four = row["cells"]
        # One engine: K = 1 is the batched flush with one request in flight (a claim and a
        # result write per batch, as tests/test_services.py holds it), not 5 per message;
        # 12 messages are few, so the fixed costs weigh (tests/test_batch_flush.py holds
        # the marginal cost on larger queues). With K = 4 the first claim takes all 12 and
        # the queue is then exhausted, so every result is written as soon as it lands (a
        # write is 3 statements): how many land together is timing, between about 1.4 and
        # 2.7 queries per message seen. Each result written alone would be about 3.5; the
        # sequential path this engine replaced cost 5.
        assert one["queries_per_msg"] <= 2.5
        assert four["queries_per_msg"] < 4
    for mode in ("wal", "delete"):
        assert [cell["k"] for cell in results["journal"][mode]] == [1, 8]
        assert all(cell["exactly_once"] for cell in results["journal"][mode])


@pytest.mark.skipif(NO_TLS is not None, reason=NO_TLS or "")
def test_bench_quick_run_with_tls(tmp_path: Path) -> None:
    """``--tls``: every part against the HTTPS sandbox, certificates verified."""
    out = tmp_path / "bench.json"
    proc, results = run_bench(
        out,
        "--tls",
        "--n",
        "8",
        "--parts",
        "baselines,app,latency",
        "--latency-n",
        "3",
        "--concurrency-latency",
        "1-3",
    )
    assert "every run over TLS" in proc.stdout
    assert "app >= 2 x seed (no latency) over TLS" in proc.stdout
    assert results["params"]["tls"] is True
    assert results["seed"]["sandbox"]["logins"] == 8
    assert results["seed"]["sandbox"]["posts_total"] == 8
    assert results["floor"]["sandbox"]["logins"] == 1
    app = results["app"]
    assert app["flush"]["by_status"] == {"sent": 8}
    assert app["sandbox"]["requests"] == {"GET login": 1, "POST sms": 8}
    assert app["verify"]["ok"], app["verify"]
    assert "with_latency" in results
