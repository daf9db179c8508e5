"""Run the whole test suite: once on SQLite, then once more on PostgreSQL when reachable.

Extra arguments go to pytest (``make test`` passes none). Exit status is non-zero if any
pass failed. The PostgreSQL pass is skipped, with the reason printed, when no server
answers on SMSREST_TEST_PG_HOST:SMSREST_TEST_PG_PORT (default 127.0.0.1:5432) or when it
refuses SMSREST_TEST_PG_USER / SMSREST_TEST_PG_PASSWORD (default postgres, no password).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL pass cannot run, or ``None`` when a server accepts our login."""
    host = os.environ.get("SMSREST_TEST_PG_HOST", "127.0.0.1")
    port = int(os.environ.get("SMSREST_TEST_PG_PORT", "5432"))
    try:
        with socket.create_connection((host, port), timeout=2):
            pass
    except OSError:
        return f"no server reachable on {host}:{port}"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        psycopg.connect(
            host=host,
            port=port,
            user=os.environ.get("SMSREST_TEST_PG_USER", "postgres"),
            password=os.environ.get("SMSREST_TEST_PG_PASSWORD", ""),
            dbname="postgres",
            connect_timeout=5,
        ).close()
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"the server on {host}:{port} refused the connection ({first_line}); "
            "set SMSREST_TEST_PG_USER / SMSREST_TEST_PG_PASSWORD"
        )
    return None


def run(label: str, env: dict[str, str], args: list[str]) -> int:
    print(f"\n=== {label} ===", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *args], env=env)


def main() -> int:
    args = sys.argv[1:]
    base = dict(os.environ)
    status = run("tests on SQLite", {**base, "SMSREST_TEST_DB": "sqlite"}, args)
    reason = postgres_unavailable()
    if reason is None:
        pg_args = [*args, "-m", "not browser"]
        status = (
            run("tests on PostgreSQL", {**base, "SMSREST_TEST_DB": "postgres"}, pg_args) or status
        )
    else:
        print(f"\n=== PostgreSQL pass skipped: {reason} ===")
    return status


if __name__ == "__main__":
    sys.exit(main())
