"""The soak (issue 21, item 7): ``bench/soak.py`` for 60 seconds, three ``send_sms --loop``
workers against the sandbox with random outages, 429 storms, slow answers, kill -9 of
workers and (on PostgreSQL) database connection kills; nothing lost, nothing POSTed twice.

On the database of the pass (``SMSREST_TEST_DB``): SQLite, or PostgreSQL where the
connection kills run too. ``slow``: ``make test`` runs it, the quick CI cells do not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (REPO / "bench" / "soak.py").exists(),
        reason="bench/soak.py is not in this copy of the project (the sdist has no bench/)",
    ),
]


def test_a_60_second_soak_loses_nothing_and_posts_nothing_twice(tmp_path: Path) -> None:
    db = "postgres" if os.environ.get("SMSREST_TEST_DB") == "postgres" else "sqlite"
    done = subprocess.run(
        [sys.executable, "bench/soak.py", "--minutes", "1", "--workers", "3", "--rate", "8",
         "--db", db, "--seed", "21", "--drain", "120", "--json", str(tmp_path / "soak.json")],
        cwd=REPO, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    print(done.stdout)
    assert (tmp_path / "soak.json").exists(), done.stderr[-3000:]
    result = json.loads((tmp_path / "soak.json").read_text())
    assert result["produced"] > 300
    assert result["lost"] == 0, (result["statuses"], done.stderr[-3000:])
    assert result["posted_twice"] == 0, result["twice"]
    assert result["sent"] == result["produced"] == result["rows"]
    # The chaos did happen: workers were killed and restarted, the gateway misbehaved.
    assert result["killed_9"] >= 1
    assert result["chaos"].get("outage", 0) + result["chaos"].get("429_storm", 0) >= 1
    if db == "postgres":
        assert result["chaos"]["db_connections_killed"] >= 1
    # ... and no worker died of it: a killed database connection, an outage or a 429 storm
    # is survived by the loop (management/loop.py); only kill -9 ends a worker.
    assert result["crashed"] == 0, done.stderr[-3000:]
    assert done.returncode == 0
