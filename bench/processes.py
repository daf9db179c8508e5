"""The benchmark's processes: the sandbox gateway, the Django-side phases (each in its own
process: ``python -m bench.phases``), and what the driver checks before it starts them
(PostgreSQL, Redis, a TLS certificate). Plain Python, no Django.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from bench.common import CA_BUNDLE_ENV, parse_result, sandbox_call, sandbox_counts
from django_smsrest.testing.sandbox import TlsCertificate, make_self_signed_cert

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


class Sandbox:
    """The sandbox gateway in a subprocess of ours (stopped by its pid, nothing else).

    With ``certificate`` it serves HTTPS; ``ca_bundle`` is then the file every client of
    the benchmark verifies it against (``verify=`` / ``VERIFY_TLS``), else ``None``.
    """

    def __init__(
        self,
        log: IO[str],
        certificate: TlsCertificate | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        # Credits are no constraint here: every phase resets the sandbox, which refills.
        command = [PY, "-m", "django_smsrest.sandbox", "--port", "0", "--credits", "100000000"]
        if certificate:
            command += ["--tls-cert", certificate.cert, "--tls-key", certificate.key]
        self.ca_bundle = ca_bundle if certificate else None
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"the sandbox did not start (printed {line!r})")
        self.base_url = line

    def reset(self, latency: str | None = None) -> None:
        """Forget orders and counters (faults off); then set ``latency`` ("30-80") if given."""
        sandbox_call(self.base_url, "reset", {}, ca_bundle=self.ca_bundle)
        if latency:
            sandbox_call(self.base_url, "config", {"latency": latency}, ca_bundle=self.ca_bundle)

    @property
    def verify(self) -> bool | str:
        """What the baselines pass as ``verify``: the bundle over TLS (never ``False``)."""
        return self.ca_bundle or True

    def counts(self) -> dict[str, Any]:
        return sandbox_counts(self.base_url, ca_bundle=self.ca_bundle)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Runner:
    """Starts the Django-side phases with the right environment."""

    def __init__(
        self,
        base_url: str,
        sqlite_path: str,
        pg_name: str,
        log: IO[str],
        ca_bundle: str | None = None,
    ) -> None:
        self.base_url = base_url
        self.sqlite_path = sqlite_path
        self.pg_name = pg_name
        self.log = log
        self.ca_bundle = ca_bundle

    def env(
        self, db: str, settings: str = "bench.settings", extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE=settings,
            SMSREST_BENCH_DB=db,
            SMSREST_BENCH_SQLITE=self.sqlite_path,
            SMSREST_BENCH_PG_NAME=self.pg_name,
            SMSREST_BENCH_BASE_URL=self.base_url,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        )
        env.pop(CA_BUNDLE_ENV, None)
        if self.ca_bundle:
            env[CA_BUNDLE_ENV] = self.ca_bundle
        env.update(extra or {})
        return env

    def phase(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        db: str,
        settings: str = "bench.settings",
        timeout: float = 600,
        env: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        proc = subprocess.run(
            [
                PY,
                "-m",
                "bench.phases",
                name,
                json.dumps({"base_url": self.base_url, **(params or {})}),
            ],
            cwd=ROOT,
            env=self.env(db, settings, env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.log.write(f"--- phase {name} ({db}) rc={proc.returncode}\n{proc.stderr}\n")
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"phase {name!r} failed (exit {proc.returncode}):\n{tail}")
        return parse_result(proc.stdout)

    def popen_phase(self, name: str, params: dict[str, Any], *, db: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [PY, "-m", "bench.phases", name, json.dumps({"base_url": self.base_url, **params})],
            cwd=ROOT,
            env=self.env(db),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )


def django_version() -> str:
    from importlib.metadata import version

    return version("django")


def postgres_status(name: str) -> str | None:
    """``None`` if PostgreSQL on 127.0.0.1:5432 is usable (creating database ``name`` if
    needed), else the reason it is not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    host = os.environ.get("SMSREST_BENCH_PG_HOST", "127.0.0.1")
    port = os.environ.get("SMSREST_BENCH_PG_PORT", "5432")
    user = os.environ.get("SMSREST_BENCH_PG_USER", "postgres")
    try:
        with psycopg.connect(
            host=host, port=port, user=user, dbname="postgres", autocommit=True, connect_timeout=3
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        return f"PostgreSQL at {host}:{port} is not usable: {type(exc).__name__}: {exc}"
    return None


def redis_status() -> str | None:
    try:
        import redis
    except ImportError:
        return "django-tasks-rq is not installed (pip install django-tasks-rq django-rq)"
    try:
        redis.Redis(
            host=os.environ.get("SMSREST_BENCH_REDIS_HOST", "127.0.0.1"),
            port=int(os.environ.get("SMSREST_BENCH_REDIS_PORT", "6379")),
            socket_connect_timeout=2,
        ).ping()
    except Exception as exc:
        return f"Redis is not reachable: {type(exc).__name__}: {exc}"
    return None


def tls_material(work_dir: str, ca: str) -> tuple[TlsCertificate, str]:
    """A throwaway certificate for the sandbox and the CA bundle the clients verify with:
    ``certifi`` = certifi's bundle plus the certificate (what ``verify=True`` loads on every
    new connection, so the seed pays the same CA loading as in production), ``sandbox`` =
    the certificate alone (a lower bound for the seed's cost)."""
    certificate = make_self_signed_cert(work_dir)
    if ca == "sandbox":
        return certificate, certificate.cert
    import certifi

    bundle = Path(work_dir) / "ca-bundle.pem"
    bundle.write_text(
        Path(certifi.where()).read_text() + "\n" + Path(certificate.cert).read_text()
    )
    return certificate, str(bundle)


def counts_summary(counts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in counts.items() if k != "post_counts"}


@contextmanager
def step(title: str) -> Iterator[None]:
    print(f"... {title}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    yield
    print(f"    done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
