"""Results files: every run of ``bench/bench.py`` is written to one JSON file, with what it
ran on, so that a figure quoted anywhere can be traced to the run that measured it.

``bench/results/<UTC date and time>-<commit>.json`` by default (``--json PATH`` elsewhere)::

    {"format": 1, "date": "2026-12-07T19:51:18+00:00", "commit": "46efca6",
     "commit_dirty": false, "command": "bench/bench.py --parts ...",
     "machine": {"cpus": 2, "memory_gb": 7.8, "load_average": [...], "python": "3.11.2",
                 "django": "5.2.20", "sqlite": "3.40.1", "postgresql": "16.4", ...},
     "params": {...}, ...every figure of the run, as the report reads them...}

The README's Performance tables are built from one such file (:mod:`bench.readme`).
Plain Python, no Django.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
FORMAT = 1


def commit() -> tuple[str, bool]:
    """The checked-out commit (short hash) and whether the work tree has changes; ``("",
    False)`` outside a git checkout."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "", False
    return head, bool(status)


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def machine(django_version: str, postgresql: str | None = None) -> dict[str, Any]:
    """What a figure depends on besides the code: cores, memory, load when the run
    started (the development machine is shared), interpreter, Django, databases."""
    return {
        "cpus": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(terse=True),
        "python": sys.version.split()[0],
        "django": django_version,
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgresql,
    }


def postgresql_version(name: str) -> str | None:
    """The server version of the benchmark's PostgreSQL database, ``None`` if unreachable."""
    try:
        import psycopg

        with psycopg.connect(
            host=os.environ.get("SMSREST_BENCH_PG_HOST", "127.0.0.1"),
            port=os.environ.get("SMSREST_BENCH_PG_PORT", "5432"),
            user=os.environ.get("SMSREST_BENCH_PG_USER", "postgres"),
            dbname=name,
            connect_timeout=3,
        ) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except Exception:
        return None
    return str(row[0]).split()[0] if row else None


def stamp(results: dict[str, Any], argv: list[str]) -> dict[str, Any]:
    """``results`` with the run's date, commit and command first."""
    head, dirty = commit()
    return {
        "format": FORMAT,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": head,
        "commit_dirty": dirty,
        "command": " ".join(["bench/bench.py", *argv]),
        **results,
    }


def default_path(results: dict[str, Any]) -> Path:
    """``bench/results/2026-12-07T1951-46efca6.json`` for a stamped ``results``."""
    when = datetime.fromisoformat(results["date"]).strftime("%Y-%m-%dT%H%M")
    suffix = f"-{results['commit']}" if results.get("commit") else ""
    return RESULTS_DIR / f"{when}{suffix}.json"


def write(results: dict[str, Any], path: Path | None = None) -> Path:
    """Write a stamped ``results`` to ``path`` (default :func:`default_path`)."""
    path = path or default_path(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path


def load(path: str | Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data
