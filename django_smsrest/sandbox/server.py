"""The HTTP layer of the sandbox: a stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1.

One thread per connection (keep-alive connections are reused for many requests), no
per-request threads. Each response is written with a single ``send`` and Nagle is off,
so a keep-alive client is not slowed by delayed ACKs.

Paths:

``/API/v1.0/REST/...``   the gateway's REST API (:func:`.api.handle_api`).
``/_sandbox/``           an HTML page listing the messages received, newest first.
``/_sandbox/orders``     JSON: every order and the counters (``/_sandbox/orders/<id>``: one).
``/_sandbox/config``     GET: the options (no password); POST a JSON object to change them.
``/_sandbox/reset``      POST: forget orders and counters, switch faults off.
``/_sandbox/advance``    POST ``{"seconds": N}``: move the sandbox clock forward.
``/_sandbox/inbound``    POST ``{"sender": "+39...", "text": "...", "id_sim": "+39..."}`` (or the
                         page's form): an SMS received by the account (``newsrsmsmessage``).
``/_sandbox/blacklist``  POST ``{"phoneNumber": "+39...", "origin": "WEB" | "STOPSMS"}``: a
                         number blacklisted in the panel or by the Stop SMS service.
``/_sandbox/alias``      POST ``{"alias": "Shop", "state": 1}``: register a sender alias (or
                         change its ``alias-state``); ``GET alias`` lists them.

HTTPS: give :func:`make_server` an ``ssl.SSLContext`` (:func:`tls_context` builds one from
a certificate and key file). The listening socket stays plain; each accepted connection
is wrapped and its handshake runs in the connection's own thread, so a slow or failing
handshake never blocks the accept loop, and a failed one is a single line with
``verbose`` (never a traceback). Keep-alive works over TLS as over plain HTTP.

Logging is off unless ``verbose``; when on, request lines are logged without their query
string (the login query carries the password) and no header is ever logged.
"""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from django_smsrest.sandbox.api import handle_api
from django_smsrest.sandbox.callbacks import CallbackNotifier
from django_smsrest.sandbox.page import render_page
from django_smsrest.sandbox.replies import Reply, json_reply
from django_smsrest.sandbox.state import SandboxState
from django_smsrest.sandbox.validation import load_json

API_PREFIX = "/API/v1.0/REST/"
CONTROL_PREFIX = "/_sandbox/"
MAX_BODY = 16 * 1024 * 1024

_DATE_CACHE: list[int | str] = [0, ""]
_QUERY_RE = re.compile(r"\?[^\s'\"]*")


def redact(text: str) -> str:
    """``text`` with every URL query string replaced: the login query holds the password."""
    return _QUERY_RE.sub("?[redacted]", text)


def path_only(target: str) -> str:
    """The path of a request target, without its query string."""
    return target.partition("?")[0]


class Headers:
    """Request headers: case-insensitive ``get``, iteration in the client's own spelling.

    A small replacement for the ``email.message.Message`` the stdlib builds for every
    request; that parser is the largest cost of a request in ``http.server``, and the
    sandbox must serve well over 1,000 requests per second.
    """

    __slots__ = ("_items", "_lookup")

    def __init__(self) -> None:
        self._items: list[tuple[str, str]] = []
        self._lookup: dict[str, str] = {}

    def add(self, name: str, value: str) -> None:
        self._items.append((name, value))
        self._lookup.setdefault(name.lower(), value)  # the first one wins, like Message.get

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._lookup.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, _ in self._items])

    def keys(self) -> list[str]:
        return [name for name, _ in self._items]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


_HEX_RE = re.compile(rb"[0-9A-Fa-f]{1,15}")
_MAX_HEADERS = 100
_MAX_LINE = 65536


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Routes requests to the state; knows nothing about the API itself."""

    server: SandboxHTTPServer
    raw_requestline: bytes  # set by BaseHTTPRequestHandler.handle_one_request
    protocol_version = "HTTP/1.1"
    server_version = "django-smsrest-sandbox"
    sys_version = ""
    disable_nagle_algorithm = True
    # An idle keep-alive connection is closed after this many seconds.
    timeout = 300

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)
        if isinstance(self.connection, ssl.SSLSocket):
            # The handshake was deferred by SandboxHTTPServer.get_request: run it here, in
            # this connection's thread, under the handler's timeout.
            try:
                self.connection.do_handshake()
            except BaseException:
                self.server.untrack(self.connection)
                raise

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def parse_request(self) -> bool:
        """Parse the request line and headers (HTTP/1.0 and 1.1); ``False`` after an error.

        Same contract as the stdlib method it replaces: sets ``command``, ``path``,
        ``request_version``, ``headers`` and ``close_connection`` (keep-alive by default on
        HTTP/1.1, on HTTP/1.0 only with ``Connection: keep-alive``), and answers
        ``Expect: 100-continue``.
        """
        self.command, self.path = "", ""  # still set if the request line is malformed
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            self.send_error(400)
            return False
        self.command, self.path, self.request_version = words
        headers = Headers()
        last: str | None = None
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE or len(headers._items) > _MAX_HEADERS:
                self.send_error(431)
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and last is not None:  # obsolete line folding
                name, value = headers._items.pop()
                headers._lookup.pop(name.lower(), None)
                headers.add(name, f"{value} {text.strip()}")
                continue
            name, sep, value = text.partition(":")
            if not sep or not name or name != name.strip():
                self.send_error(400)
                return False
            headers.add(name, value.strip())
            last = name
        self.headers = headers  # type: ignore[assignment]
        connection = (headers.get("Connection") or "").lower()
        if self.request_version == "HTTP/1.1":
            self.close_connection = connection == "close"
        else:
            self.close_connection = connection != "keep-alive"
        if (headers.get("Expect") or "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once per second rather than once per request."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        cached = _DATE_CACHE
        if cached[0] != now:
            cached[:] = [now, super().date_time_string(now)]
        return str(cached[1])

    # --- logging: quiet by default, never a query string -----------------------------------

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.verbose:
            path = path_only(self.path)
            self.log_message('"%s %s" %s', self.command or "-", path or "-", code)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            line = redact(format % args)
            sys.stderr.write(f"[sandbox] {self.address_string()} {line}\n")

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        """Errors found while parsing the request line: answer without echoing the request."""
        self.close_connection = True
        status = HTTPStatus(code)
        body = {"result": "KO", "error_message": status.phrase, "code": status.name}
        self._write(json_reply(code, body))

    def _bad_request(self, reason: str) -> None:
        """A 400 naming what was wrong with the request framing; the connection closes."""
        self.close_connection = True
        body = {"result": "KO", "error_message": reason, "code": "BAD_REQUEST"}
        self._write(json_reply(400, body))

    # --- dispatch ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path, _, query_string = self.path.partition("?")
        if path.startswith(API_PREFIX):
            delay = self.server.state.draw_latency()
            if delay and self.server.stopping.wait(delay):
                self.close_connection = True
                return
        try:
            reply = self._route(path, query_string, body)
        except Exception as error:
            # A sandbox bug must answer, not look like a network fault to the client under
            # test; the reason is logged (redacted) and sent back.
            self.log_message("sandbox error: %s: %s", type(error).__name__, error)
            reply = json_reply(
                500,
                {
                    "result": "KO",
                    "error_message": f"The sandbox failed on this request "
                    f"({type(error).__name__}); this is a sandbox bug.",
                    "code": "SANDBOX_ERROR",
                },
            )
        if reply.action == "respond":
            self._write(reply)
            return
        if reply.action == "hang":
            # The order is stored; the client waits for an answer that never comes. Wake up
            # early only when the server is stopping.
            self.server.stopping.wait(reply.hang_seconds)
        self._drop()

    def _route(self, path: str, query_string: str, body: bytes) -> Reply:
        if path.startswith(API_PREFIX):
            query = {
                key: values[0]
                for key, values in parse_qs(query_string, keep_blank_values=True).items()
            }
            return handle_api(
                self.server.state, self.command, path[len(API_PREFIX) :], query, self.headers, body
            )
        if path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/"):
            action = path[len(CONTROL_PREFIX) :].strip("/")
            form = (
                (self.headers.get("Content-Type") or "")
                .lower()
                .startswith("application/x-www-form-urlencoded")
            )
            return control_reply(self.server.state, self.command, action, body, form=form)
        if path == "/":
            return Reply(302, b"", "text/plain", (("Location", CONTROL_PREFIX),))
        return json_reply(
            404,
            {
                "result": "KO",
                "error_message": f"Not found; the API is under {API_PREFIX}",
                "code": "NOT_FOUND",
            },
        )

    # --- I/O ---------------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        """The request body (``b""`` if none); ``None`` after answering a bad one."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.send_error(400)
            return None
        if length > MAX_BODY:
            self.send_error(413)
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        """A chunked body, each chunk size plain hex (no sign, ``0x`` or ``_`` that
        ``int()`` would take: a negative size once read the stream to its end)."""
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).split(b";")[0].strip()
            if not _HEX_RE.fullmatch(line):
                self._bad_request(
                    f"invalid chunk size {line[:20]!r}: chunk sizes are hexadecimal digits"
                )
                return None
            size = int(line, 16)
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                self.send_error(413)
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, reply: Reply) -> None:
        """Status line, headers and body in one write (one TCP segment for small answers)."""
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
            "Cache-Control: no-store",
        ]
        lines.extend(f"{name}: {value}" for name, value in reply.headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + (b"" if self.command == "HEAD" else reply.body))
        except OSError:
            self.close_connection = True
        self.log_request(reply.status)
        if reply.note:
            self.log_message('"%s %s" %s', self.command, path_only(self.path), reply.note)

    def _drop(self) -> None:
        """Close the connection without a byte of answer (the client sees a dropped link)."""
        self.close_connection = True
        self.log_message('"%s %s" dropped without answer', self.command, path_only(self.path))
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def control_reply(
    state: SandboxState, method: str, action: str, body: bytes, *, form: bool = False
) -> Reply:
    """The answer to ``/_sandbox/<action>`` (see the module docstring); ``form``: the body
    is ``application/x-www-form-urlencoded`` (the page's inbound form)."""
    try:
        if action == "" and method == "GET":
            return Reply(200, render_page(state).encode(), "text/html; charset=utf-8")
        if action == "orders" and method == "GET":
            return json_reply(200, state.snapshot())
        if action.startswith("orders/") and method == "GET":
            order = state.order(action[len("orders/") :])
            posts = state.post_count(action[len("orders/") :])
            if order is None:
                return json_reply(404, {"order": None, "posts": posts})
            return json_reply(200, {"order": order, "posts": posts})
        if action == "config" and method == "GET":
            return json_reply(200, state.config.public())
        if action == "config" and method == "POST":
            return json_reply(200, state.configure(**_json_object(body)))
        if action == "inbound" and method == "POST":
            if form:
                # The form on the sandbox page: store, then back to the page.
                fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                state.receive({key: values[0] for key, values in fields.items()})
                return Reply(303, b"", "text/plain", (("Location", CONTROL_PREFIX),))
            return json_reply(201, {"result": "OK", "message": state.receive(_json_object(body))})
        if action == "blacklist" and method == "POST":
            return json_reply(201, state.add_to_blacklist(_json_object(body)))
        if action == "alias" and method == "POST":
            return json_reply(200, state.set_alias(_json_object(body)))
        if action == "reset" and method == "POST":
            state.reset()
            return json_reply(200, {"result": "OK"})
        if action == "advance" and method == "POST":
            seconds = _json_object(body).get("seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                raise ValueError('send {"seconds": <number>}')
            state.advance(seconds)
            return json_reply(200, {"result": "OK", "clock_offset": state.clock_offset})
    except ValueError as error:
        return json_reply(
            400, {"result": "KO", "error_message": str(error), "code": "INVALID_OPTION"}
        )
    return json_reply(
        404,
        {"result": "KO", "error_message": "Unknown sandbox control path", "code": "NOT_FOUND"},
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = load_json(body or b"{}")
    except ValueError as error:
        raise ValueError(f"the body must be a JSON object ({error})") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one :class:`SandboxState`.

    :meth:`stop` (from another thread) ends :meth:`serve_forever`, wakes handlers that are
    hanging on purpose and closes every open connection, so no thread stays blocked.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        state: SandboxState,
        *,
        verbose: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        self.verbose = verbose
        self.ssl_context = ssl_context
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, SandboxRequestHandler)
        self.notifier = CallbackNotifier(state, self.stopping)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until :meth:`stop`; the delivery-callback watcher runs alongside."""
        if not self.notifier.thread.is_alive() and not self.stopping.is_set():
            self.notifier.start()
        super().serve_forever(poll_interval)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection; with TLS, wrap it without handshaking yet (see ``setup``)."""
        connection, address = super().get_request()
        if self.ssl_context is not None:
            try:
                connection = self.ssl_context.wrap_socket(
                    connection, server_side=True, do_handshake_on_connect=False
                )
            except OSError:
                connection.close()
                raise
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One redacted line (with ``verbose``) instead of the stdlib's traceback on stderr."""
        if self.verbose:
            error = sys.exc_info()[1]
            line = redact(f"{type(error).__name__}: {error}")
            sys.stderr.write(f"[sandbox] {client_address[0]} connection error: {line}\n")

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can take seconds
        # on a machine without DNS; the sandbox never needs the name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def scheme(self) -> str:
        """``https`` when serving TLS, else ``http``."""
        return "https" if self.ssl_context is not None else "http"

    @property
    def base_url(self) -> str:
        """``http(s)://HOST:PORT/API/v1.0/REST/`` with the real (possibly ephemeral) port."""
        host = str(self.server_address[0])
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.server_address[1]}{API_PREFIX}"

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def stop(self) -> None:
        """Stop serving and close every connection. Call from another thread."""
        self.stopping.set()
        self.shutdown()
        self.close_connections()
        self.server_close()

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def tls_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A server-side ``SSLContext`` (TLS 1.2 or later) serving ``certfile`` / ``keyfile``.

    Raises ``OSError`` (``ssl.SSLError``, ``FileNotFoundError``) if they cannot be loaded.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


def make_server(
    host: str = "127.0.0.1",
    port: int = 0,
    state: SandboxState | None = None,
    *,
    verbose: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> SandboxHTTPServer:
    """Bind a sandbox server (port 0: an ephemeral port); call ``serve_forever()`` next.

    With ``ssl_context`` (see :func:`tls_context`) it serves HTTPS.
    """
    return SandboxHTTPServer(
        (host, port), state or SandboxState(), verbose=verbose, ssl_context=ssl_context
    )
