"""Run the sandbox gateway from tests: in a thread, in a subprocess, or as pytest fixtures.

In-process (fast; the test reads and changes the sandbox's state directly)::

    from django_smsrest.testing import run_sandbox

    with run_sandbox(step=0.05) as sandbox:
        settings.SMSREST = {**settings.SMSREST, **sandbox.smsrest_settings()}
        ...
        sandbox.configure(error_after_next=1)      # the next order is accepted, then a 500
        assert sandbox.post_count(order_id) == 1   # never POSTed twice

In another process (a real separate server, e.g. for multi-process tests)::

    with start_sandbox_process(seed=7) as sandbox:   # same methods, over HTTP
        ...

With pytest (``pytest_plugins = ["django_smsrest.testing"]`` in the root ``conftest.py``):
``smsrest_sandbox`` (a fresh sandbox per test), ``smsrest_sandbox_factory`` (call it with
options; everything it started is stopped after the test) and ``smsrest_sandbox_settings``
(pytest-django: points ``settings.SMSREST`` at a fresh sandbox with the REST backend).

Both handles have ``base_url``, ``username``, ``password``, ``configure(**options)``,
``orders()``, ``order(order_id)``, ``post_count(order_id)``, ``snapshot()``,
``advance(seconds)``, ``reset()``, ``stop()`` and ``smsrest_settings(**extra)``; see
:mod:`django_smsrest.sandbox` for the options, test numbers and fault switches.

Over HTTPS, like the real gateway (a TCP + TLS handshake per new connection)::

    with run_sandbox(tls=True) as sandbox:            # or start_sandbox_process(tls=True)
        sandbox.base_url                              # https://127.0.0.1:PORT/API/v1.0/REST/
        requests.get(sandbox.base_url + "status", verify=sandbox.ca_bundle)
        sandbox.smsrest_settings()                    # includes VERIFY_TLS=sandbox.ca_bundle

``tls=True`` makes a throwaway self-signed certificate for ``127.0.0.1`` / ``::1`` /
``localhost`` (:func:`make_self_signed_cert`, with the ``openssl`` command or, failing
that, the ``cryptography`` package; :func:`tls_unavailable_reason` says why neither
works) and deletes it on ``stop()``; pass a :class:`TlsCertificate` to use your own.
Clients verify it against ``ca_bundle`` (the certificate itself): verification is never
switched off.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from django_smsrest.sandbox.config import SandboxConfig
from django_smsrest.sandbox.server import (
    API_PREFIX,
    SandboxHTTPServer,
    make_server,
    tls_context,
)
from django_smsrest.sandbox.state import TEST_NUMBERS, SandboxState
from django_smsrest.testing.tls import (
    TlsCertificate,
    TlsUnavailable,
    make_self_signed_cert,
    tls_unavailable_reason,
)

__all__ = [
    "TEST_NUMBERS",
    "SandboxProcess",
    "SandboxServer",
    "TlsCertificate",
    "TlsUnavailable",
    "make_self_signed_cert",
    "run_sandbox",
    "smsrest_sandbox",
    "smsrest_sandbox_factory",
    "smsrest_sandbox_settings",
    "start_sandbox_process",
    "tls_unavailable_reason",
]


def _resolve_tls(tls: bool | TlsCertificate) -> tuple[TlsCertificate | None, str | None]:
    """The certificate to serve and the temporary folder to delete afterwards (if any)."""
    if isinstance(tls, TlsCertificate):
        return tls, None
    if not tls:
        return None, None
    folder = tempfile.mkdtemp(prefix="smsrest-sandbox-tls-")
    try:
        return make_self_signed_cert(folder), folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


class _SandboxHandle:
    """What both handles share: the account and the settings for the app."""

    base_url: str
    username: str
    password: str
    #: With TLS: the PEM file a client must trust (``verify=`` for requests,
    #: ``SMSREST["VERIFY_TLS"]`` for the app); ``None`` over plain HTTP.
    ca_bundle: str | None = None
    certificate: TlsCertificate | None = None
    _tls_dir: str | None = None

    @property
    def root_url(self) -> str:
        """``http(s)://HOST:PORT/`` (the control pages live under ``_sandbox/``)."""
        return self.base_url[: -len(API_PREFIX)] + "/"

    @property
    def page_url(self) -> str:
        """The HTML page listing what the sandbox received."""
        return self.root_url + "_sandbox/"

    def smsrest_settings(self, **extra: Any) -> dict[str, Any]:
        """``SMSREST`` keys that point the app at this sandbox (plus ``extra``); over TLS
        also ``VERIFY_TLS``: the sandbox's certificate."""
        settings: dict[str, Any] = {
            "BASE_URL": self.base_url,
            "USERNAME": self.username,
            "PASSWORD": self.password,
        }
        if self.ca_bundle:
            settings["VERIFY_TLS"] = self.ca_bundle
        return {**settings, **extra}

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client ``SSLContext`` trusting only the sandbox's certificate (``None``: HTTP)."""
        if self.ca_bundle is None:
            return None
        return ssl.create_default_context(cafile=self.ca_bundle)

    def _set_tls(self, certificate: TlsCertificate | None, tls_dir: str | None) -> None:
        self.certificate = certificate
        self.ca_bundle = certificate.cert if certificate else None
        self._tls_dir = tls_dir

    def _remove_tls_dir(self) -> None:
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None

    def orders(self) -> list[dict[str, Any]]:
        """Every order received, oldest first (see ``GET /_sandbox/orders``)."""
        return list(self.snapshot()["orders"])

    def snapshot(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"


class SandboxServer(_SandboxHandle):
    """A sandbox serving from a daemon thread of this process. Use :func:`run_sandbox`.

    ``state`` is the live :class:`~django_smsrest.sandbox.state.SandboxState`; the
    methods below are shortcuts to it.
    """

    def __init__(
        self,
        server: SandboxHTTPServer,
        certificate: TlsCertificate | None = None,
        tls_dir: str | None = None,
    ) -> None:
        self._set_tls(certificate, tls_dir)
        self.server = server
        self.state: SandboxState = server.state
        self.base_url = server.base_url
        self.username = self.state.config.username
        self.password = self.state.config.password
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"smsrest-sandbox-{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change options or faults now (``ValueError`` if invalid); returns the options."""
        return self.state.configure(**options)

    def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot()

    def order(self, order_id: str) -> dict[str, Any] | None:
        """The inspection record of one accepted order, or ``None``."""
        return self.state.order(order_id)

    def post_count(self, order_id: str) -> int:
        """How many ``POST sms`` carried ``order_id``, whatever the answer."""
        return self.state.post_count(order_id)

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (deliveries progress, schedules fire)."""
        self.state.advance(seconds)

    def settle_callbacks(self, timeout: float = 10.0) -> None:
        """Wait until the delivery-callback watcher has posted every change made so far
        (two complete looks from now; with callbacks off, it looked and posted nothing).
        Raises ``TimeoutError`` if it did not look in ``timeout`` seconds."""
        if not self.server.notifier.wait_looks(2, timeout):
            raise TimeoutError(f"the sandbox's callback watcher did not look in {timeout} s")

    def reset(self) -> None:
        """Forget orders and counters, switch faults off (sessions stay valid)."""
        self.state.reset()

    def stop(self) -> None:
        """Stop serving and close every connection. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.server.stop()
        self._thread.join(timeout=5)
        self._remove_tls_dir()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    verbose: bool = False,
    tls: bool | TlsCertificate = False,
    **options: Any,
) -> SandboxServer:
    """Start a sandbox on ``host`` (a free port by default) in a daemon thread.

    ``options`` are :class:`~django_smsrest.sandbox.config.SandboxConfig` options, e.g.
    ``run_sandbox(step=0.05, session_idle=1, credits={"LL": 0}, seed=1)``. ``tls=True``
    serves HTTPS with a throwaway self-signed certificate (``.ca_bundle``); a
    :class:`TlsCertificate` serves that one. :class:`TlsUnavailable` if none can be made.
    """
    state = SandboxState(SandboxConfig.from_options(**options))
    certificate, tls_dir = _resolve_tls(tls)
    try:
        context = tls_context(certificate.cert, certificate.key) if certificate else None
        server = make_server(host, port, state, verbose=verbose, ssl_context=context)
    except BaseException:
        if tls_dir:
            shutil.rmtree(tls_dir, ignore_errors=True)
        raise
    return SandboxServer(server, certificate, tls_dir)


# --- subprocess ------------------------------------------------------------------------------


def _cli_value(name: str, value: Any) -> str:
    if name == "latency" and isinstance(value, list | tuple):
        return f"{value[0]}-{value[1]}"
    if isinstance(value, dict):
        return ",".join(f"{code}={amount}" for code, amount in value.items())
    return str(value)


class SandboxProcess(_SandboxHandle):
    """A sandbox running as ``python -m django_smsrest.sandbox`` in a child process.

    Same methods as :class:`SandboxServer`, carried over HTTP to the ``/_sandbox/``
    control endpoints (with ``urllib``, so a test that mocks ``requests`` still reaches it).
    """

    def __init__(
        self,
        process: subprocess.Popen[str],
        base_url: str,
        username: str,
        password: str,
        certificate: TlsCertificate | None = None,
        tls_dir: str | None = None,
    ) -> None:
        self._set_tls(certificate, tls_dir)
        self.process = process
        self.base_url = base_url
        self.username = username
        self.password = password

    @property
    def pid(self) -> int:
        return self.process.pid

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        # The URL is always the child's own http(s)://127.0.0.1:PORT/ (never user input).
        request = urllib.request.Request(  # noqa: S310
            self.root_url + "_sandbox/" + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=30, context=self.ssl_context()
            ) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            body = json.loads(error.read() or b"{}")
            if error.code == 400:
                raise ValueError(body.get("error_message", "invalid sandbox option")) from None
            if error.code == 404 and "posts" in body:
                return body
            raise

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change options or faults in the child (``ValueError`` if invalid)."""
        if isinstance(options.get("latency"), tuple):
            options["latency"] = list(options["latency"])
        return dict(self._call("POST", "config", options))

    def snapshot(self) -> dict[str, Any]:
        return dict(self._call("GET", "orders"))

    def order(self, order_id: str) -> dict[str, Any] | None:
        return self._call("GET", f"orders/{order_id}")["order"]

    def post_count(self, order_id: str) -> int:
        return int(self._call("GET", f"orders/{order_id}")["posts"])

    def advance(self, seconds: float) -> None:
        self._call("POST", "advance", {"seconds": seconds})

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the child and wait; kill it if it does not exit. Returns its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._remove_tls_dir()
        return int(self.process.returncode)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sandbox_process(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    verbose: bool = False,
    startup_timeout: float = 20.0,
    env: dict[str, str] | None = None,
    tls: bool | TlsCertificate = False,
    **options: Any,
) -> SandboxProcess:
    """Run ``python -m django_smsrest.sandbox`` and wait for the base-URL line it prints.

    The account goes through the environment, not the command line (no password in
    ``ps``). Its standard error is inherited (visible with ``--verbose``). Raises
    ``RuntimeError`` if the child exits or stays silent for ``startup_timeout`` seconds.
    ``tls`` as for :func:`run_sandbox` (``--tls-cert`` / ``--tls-key``).
    """
    config = SandboxConfig.from_options(**options)  # fail here, with a clear message
    child_env = {**os.environ, **(env or {})}
    child_env["SMSREST_SANDBOX_USERNAME"] = config.username
    child_env["SMSREST_SANDBOX_PASSWORD"] = config.password
    command = [sys.executable, "-m", "django_smsrest.sandbox", "--host", host, "--port", str(port)]
    if verbose:
        command.append("--verbose")
    certificate, tls_dir = _resolve_tls(tls)
    if certificate:
        command += ["--tls-cert", certificate.cert, "--tls-key", certificate.key]
    for name, value in options.items():
        if name == "groups":
            for group, numbers in config.groups.items():
                command += ["--group", f"{group}={','.join(numbers)}"]
        elif name not in ("username", "password") and value is not None:
            command += ["--" + name.replace("_", "-"), _cli_value(name, value)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=child_env)
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=startup_timeout).strip()
    except queue.Empty:
        line = ""
    if not line.startswith("http"):
        process.kill()
        process.wait()
        if tls_dir:
            shutil.rmtree(tls_dir, ignore_errors=True)
        raise RuntimeError(
            f"the sandbox process did not print its base URL within {startup_timeout} s "
            f"(exit code {process.returncode}); see its standard error above"
        )
    return SandboxProcess(process, line, config.username, config.password, certificate, tls_dir)


# --- pytest fixtures -------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - the helpers above work without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def smsrest_sandbox() -> Iterator[SandboxServer]:
        """A fresh sandbox gateway on a free loopback port, stopped after the test."""
        with run_sandbox() as sandbox:
            yield sandbox

    @pytest.fixture
    def smsrest_sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
        """``factory(**options)`` starts a sandbox; all are stopped after the test."""
        started: list[SandboxServer] = []

        def factory(**options: Any) -> SandboxServer:
            sandbox = run_sandbox(**options)
            started.append(sandbox)
            return sandbox

        yield factory
        for sandbox in started:
            sandbox.stop()

    @pytest.fixture
    def smsrest_sandbox_settings(smsrest_sandbox: SandboxServer, settings: Any) -> SandboxServer:
        """pytest-django: ``settings.SMSREST`` points at a fresh sandbox, REST backend on.

        Other ``SMSREST`` keys of the project's test settings are kept.
        """
        from django_smsrest.conf import DEFAULT_BACKEND

        current = dict(getattr(settings, "SMSREST", None) or {})
        settings.SMSREST = {**current, **smsrest_sandbox.smsrest_settings(BACKEND=DEFAULT_BACKEND)}
        return smsrest_sandbox
