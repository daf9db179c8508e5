"""Run the whole test suite: once on SQLite, then once more on PostgreSQL when reachable.

Extra arguments go to pytest (``make test`` passes none). Exit status is non-zero if any
pass failed. The PostgreSQL pass is skipped, with the reason printed, when no server
answers on SMSREST_TEST_PG_HOST:SMSREST_TEST_PG_PORT (default 127.0.0.1:5432).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def postgres_reachable() -> bool:
    host = os.environ.get("SMSREST_TEST_PG_HOST", "127.0.0.1")
    port = int(os.environ.get("SMSREST_TEST_PG_PORT", "5432"))
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def run(label: str, env: dict[str, str], args: list[str]) -> int:
    print(f"\n=== {label} ===", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *args], env=env)


def main() -> int:
    args = sys.argv[1:]
    base = dict(os.environ)
    status = run("tests on SQLite", {**base, "SMSREST_TEST_DB": "sqlite"}, args)
    if postgres_reachable():
        pg_args = [*args, "-m", "not browser"]
        status = (
            run("tests on PostgreSQL", {**base, "SMSREST_TEST_DB": "postgres"}, pg_args) or status
        )
    else:
        print("\n=== PostgreSQL pass skipped: no server reachable on 127.0.0.1:5432 ===")
    return status


if __name__ == "__main__":
    sys.exit(main())
