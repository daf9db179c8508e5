"""HTTP client for the smSend / Skebby / Mobyt "SMS REST API" (``.../API/v1.0/REST/``).

Plain Python: nothing here reads Django settings, touches the ORM or does anything at import
time, so the client works in a script, a worker or the sandbox's own tests. Build it from the
app's settings with :meth:`SmsRestClient.from_settings`.

Contracts
---------
* **One POST per call.** :meth:`SmsRestClient.send_sms` makes exactly one ``POST sms``; the
  only repetition is after a 401 (or a 404 "user_key not found"), which proves the gateway did
  not accept the order: the client logs in again once and repeats the POST once. The HTTP
  adapter is mounted with ``max_retries=0`` and redirects are never followed (requests turns
  a redirected POST into a GET), so no library can repeat a POST behind our back.
* **Failures are classified by type** (see :mod:`django_smsrest.exceptions`):
  ``NotSentError`` means the gateway surely did not accept the request, ``MaybeSentError``
  means it may have (ask ``GET sms/{order_id}`` before any resend). :func:`map_error` is the
  one place that decides.
* **Secrets stay secret.** The password, the session key / access token and the login URL
  (whose query string carries the password) never appear in an exception message, a log
  line or a ``repr``. Library exceptions are never chained: every error is raised outside
  the ``except`` block that caught the library's exception, so neither ``__cause__`` nor
  ``__context__`` can carry requests' "Max retries exceeded with url: /login?...&password=".
* **Cheap.** One keep-alive :class:`requests.Session` per thread (re-created after
  ``fork``), the keys cached per client and shared by all its threads, one login for N
  threads that hit a 401 together.

Login
-----
``GET login`` (``auth="session"``) or ``GET token`` (``auth="token"``) with ``username`` and
``password`` in the query string, which is what the provider's documentation shows and what
every brand accepts. ``login_with_basic_auth=True`` sends them in an ``Authorization: Basic``
header instead (newer Skebby/Mobyt/Aruba clients do this; not documented by smSend). Either
way the answer is the text ``USER_KEY;KEY``, and later calls carry the headers ``user_key``
plus ``Session_key`` or ``Access_token``, spelled exactly so.

A session key dies after 5 idle minutes. With ``auth="session"`` the client logs in again
before a call when its key has been idle longer than ``session_idle_relogin`` seconds
(default 270), which saves a 401 round trip; the 401 path stays as the safety net.

TLS and the environment
-----------------------
``verify`` is passed on every request and the sessions have ``trust_env = False``. With
``trust_env`` on, requests replaces ``verify=True`` by ``REQUESTS_CA_BUNDLE`` /
``CURL_CA_BUNDLE`` from the environment (psf/requests#3829), picks proxies from the
environment and reads ``~/.netrc`` (which may add an ``Authorization`` header for the
gateway's host). A gateway client should do none of that silently; pass ``proxies=`` to the
constructor when a proxy is really needed.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import math
import os
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError

from django_smsrest.conf import validate_base_url
from django_smsrest.exceptions import (
    AuthenticationError,
    ConnectionDropped,
    GatewayConnectionError,
    GatewayError,
    GatewayRejected,
    GatewayServerError,
    GatewayTimeout,
    OrderNotFound,
    RateLimited,
    UnexpectedResponse,
)
from django_smsrest.results import (
    AccountStatus,
    DeliveryState,
    HistoryEntry,
    HistoryPage,
    OrderReport,
    RecipientState,
    SendResult,
)

if TYPE_CHECKING:
    from django_smsrest.conf import SmsRestSettings

__all__ = [
    "RETRY_AFTER_CAP_SECONDS",
    "SEND_EXTRA_FIELDS",
    "ClientStats",
    "SmsRestClient",
    "map_error",
    "parse_retry_after",
]

logger = logging.getLogger("django_smsrest.client")

AuthMode = Literal["session", "token"]
Operation = Literal["login", "send", "order", "cancel", "status", "history"]

#: A ``Retry-After`` longer than this is capped (seconds). urllib3 allows 6 hours; an SMS
#: outbox that waits more than an hour should rather alert a human.
RETRY_AFTER_CAP_SECONDS = 3600.0

#: Optional ``POST sms`` fields passed through unchanged by :meth:`SmsRestClient.send_sms`.
SEND_EXTRA_FIELDS = frozenset(
    {
        "campaign_name",
        "max_fragments",
        "truncate",
        "validity_period_min",
        "short_link_url",
        "richsms_url",
        "id_landing",
    }
)

# Documented rule for custom order ids (paramsms/smstogroups pages; assumed for sms too).
_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
_GATEWAY_DATE_FORMAT = "%Y%m%d%H%M%S"
_GATEWAY_DATE_FORMATS = (
    "%Y%m%d%H%M%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y%m%d%H%M",
)
_DETAIL_MAX = 300
_SECRET_QUERY_RE = re.compile(
    r"(?i)\b(password|pwd|passwd|session_key|access_token|user_key|token)=[^&\s'\"]*"
)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")

T = TypeVar("T")


class _Hidden(Generic[T]):
    """A value whose ``repr`` never shows it: for secrets held in attributes and locals.

    Tracebacks rendered with locals (Django's debug page with DEBUG on, Sentry) show the
    ``repr`` of every local; wrapping the password, the keys and the login parameters
    costs nothing and keeps them out.
    """

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value = value

    def reveal(self) -> T:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class _Keys:
    """The pair answered by ``login``/``token``; identity marks one login."""

    user_key: str
    auth_key: str

    def __repr__(self) -> str:
        return "<_Keys hidden>"


@dataclass(frozen=True)
class _Call:
    """What is being asked: enough to name it in a message (never the query string)."""

    method: str
    path: str  # actual path, relative to the base URL, no query string
    template: str  # path with placeholders, used for counting ("sms/{order_id}")
    operation: Operation
    order_id: str | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


class ClientStats:
    """Request and login counters of one client, for tests and benchmarks (thread-safe).

    ``requests`` counts every HTTP request attempted (also the ones that failed in
    transport), keyed ``"METHOD template"``, e.g. ``"POST sms"``, ``"GET sms/{order_id}"``,
    ``"GET login"``. ``logins`` counts login/token calls that returned keys.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.logins = 0

    def _count_request(self, call: _Call) -> None:
        with self._lock:
            self.requests[f"{call.method} {call.template}"] += 1

    def _count_login(self) -> None:
        with self._lock:
            self.logins += 1

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    def count(self, method: str, template: str) -> int:
        """Requests made as ``method template`` (e.g. ``count("POST", "sms")``)."""
        with self._lock:
            return self.requests[f"{method.upper()} {template}"]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(self.requests), "logins": self.logins}

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.logins = 0

    def __repr__(self) -> str:
        return f"<ClientStats {self.snapshot()!r}>"


# --- error mapping ------------------------------------------------------------------------


def sanitise(text: str, secrets: Iterable[str] = (), *, limit: int = _DETAIL_MAX) -> str:
    """``text`` fit for a message or a log line: secrets and ``password=...``-like query
    parameters masked, control characters and runs of whitespace collapsed, truncated."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _SECRET_QUERY_RE.sub(lambda m: f"{m.group(1)}=***", text)
    text = _CONTROL_RE.sub(" ", text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def parse_retry_after(
    value: str | None, *, now: datetime | None = None, cap: float = RETRY_AFTER_CAP_SECONDS
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP-date, RFC 9110
    §10.2.3), clamped to ``[0, cap]``; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:  # pragma: no cover - older Pythons returned None
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return cap
    return min(max(seconds, 0.0), cap)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (args, urllib3's ``reason``, chaining)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            nested.append(reason)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                nested.append(linked)
        stack.extend(reversed(nested))


# ssl errors that say "the peer went away" rather than "the handshake was refused"; they
# can happen after the request was written, so they count as maybe-sent.
_SSL_DROP_ERRORS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def _transport_kind(
    exc: requests.RequestException,
) -> Literal["connect", "timeout", "dropped", "other"]:
    """Tell "could not connect" (surely not sent) from "timed out" and "dropped" (maybe sent).

    requests raises ``ConnectionError`` for both a refused connection and a connection the
    server closed mid-request; only the wrapped urllib3 exception tells them apart:
    ``NewConnectionError`` (refused, unreachable), ``NameResolutionError`` (a subclass) and
    ``ConnectTimeoutError`` happen before a byte of the request is written;
    ``ProtocolError("Connection aborted.", RemoteDisconnected(...))``, ``ConnectionResetError``
    and ``ChunkedEncodingError`` after. Anything not recognised is treated as maybe-sent,
    the safe side (it costs one reconciliation GET, never a duplicate SMS). ``"other"`` is
    a request error that is not about the connection (an undecodable body, a bad header).
    """
    if isinstance(exc, requests.ConnectTimeout):
        return "connect"
    if isinstance(exc, requests.ReadTimeout):
        return "timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "dropped"
    causes = list(_causes(exc))
    if any(isinstance(c, ReadTimeoutError) for c in causes):
        # A timeout while reading the body surfaces as ConnectionError(ReadTimeoutError).
        return "timeout"
    if any(isinstance(c, ConnectTimeoutError) for c in causes):
        # ConnectTimeoutError, NewConnectionError, NameResolutionError.
        return "connect"
    if isinstance(exc, requests.exceptions.SSLError):
        ssl_errors = [c for c in causes if isinstance(c, ssl.SSLError | Urllib3SSLError)]
        wrapped = any(isinstance(c, MaxRetryError) for c in causes)
        if wrapped and not any(isinstance(c, _SSL_DROP_ERRORS) for c in ssl_errors):
            # Certificate verification or handshake refusal: nothing was sent.
            return "connect"
        return "dropped"
    if isinstance(exc, requests.ConnectionError):
        # ProtocolError("Connection aborted.", RemoteDisconnected/ConnectionResetError), a
        # closed pool, anything unknown: the request may have been written.
        return "dropped"
    # ContentDecodingError, InvalidHeader, ...: an answer arrived but could not be read.
    return "other"


def _cause_text(exc: BaseException) -> str:
    """A short, URL-free description of the innermost cause ("ConnectionRefusedError:
    Connection refused"). Built from exception types and ``strerror`` only: library messages
    quote URLs (with the login query string), so they are never used."""
    causes = list(_causes(exc))
    for cause in reversed(causes):
        if isinstance(cause, OSError) and cause.strerror:
            return f"{type(cause).__name__}: {cause.strerror}"
    for cause in reversed(causes):
        if isinstance(cause, http.client.HTTPException | ssl.SSLError):
            return type(cause).__name__
    return type(causes[-1]).__name__ if causes else type(exc).__name__


def _response_detail(response: requests.Response, secrets: Iterable[str]) -> str | None:
    """The gateway's own reason from an error body: JSON ``error_message`` / ``message`` /
    ``result`` / ``code`` (the body shape is undocumented), else the text; sanitised."""
    try:
        text = response.text or ""
    except Exception:  # a broken body must not hide the status code
        return None
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        reason = next(
            (str(data[k]) for k in ("error_message", "message") if data.get(k) not in (None, "")),
            None,
        )
        code = data.get("code")
        if code not in (None, ""):
            reason = f"{reason} (code {code})" if reason else f"code {code}"
        elif reason is None and data.get("result") not in (None, ""):
            reason = str(data["result"])
        if reason is not None:
            return sanitise(reason, secrets)
    return sanitise(text, secrets)


def _auth_failure_status(operation: Operation) -> frozenset[int]:
    """Statuses that mean "keys refused" for ``operation``: 401 everywhere, and 404 ("the
    user_key was not found") where 404 cannot mean a missing order."""
    if operation in ("order", "cancel"):
        return frozenset({401})
    return frozenset({401, 404})


def map_error(
    source: requests.Response | requests.RequestException,
    *,
    call: _Call,
    host: str,
    read_timeout: float | None = None,
    secrets: Iterable[str] = (),
) -> GatewayError:
    """The one mapping from a failed HTTP exchange to the app's exception hierarchy.

    ``source`` is either a non-2xx response (after the client's single re-login, where that
    applies) or the exception requests raised. The returned exception's message never
    quotes a URL, a query string, a header or a secret; callers raise it *outside* the
    ``except`` block so that no library exception is chained to it.

    A failure of the login itself is never "maybe sent": nothing was sent yet. Transport
    failures, 5xx and unreadable answers of ``login`` therefore map to
    :class:`GatewayConnectionError` (not sent, retryable).
    """
    secrets = tuple(s for s in secrets if s)
    login = call.operation == "login"

    if isinstance(source, requests.RequestException):
        kind = _transport_kind(source)
        cause = sanitise(_cause_text(source), secrets)
        if kind == "timeout":
            cause = f"no answer within {read_timeout:g} s" if read_timeout else "timed out"
        if login:
            return GatewayConnectionError(f"could not log in to {host} ({cause})")
        if kind == "connect":
            return GatewayConnectionError(
                f"could not connect to {host} for {call.label} ({cause}); nothing was sent"
            )
        if kind == "timeout":
            wait = f" within {read_timeout:g} s" if read_timeout else ""
            return GatewayTimeout(
                f"no answer from {host}{wait} to {call.label}; the request may have been processed"
            )
        if kind == "dropped":
            return ConnectionDropped(
                f"the connection to {host} broke during {call.label} ({cause}); "
                "the request may have been processed"
            )
        return UnexpectedResponse(
            f"{call.label} to {host} failed ({cause}); the request may have been processed"
        )

    status = source.status_code
    detail = _response_detail(source, secrets)

    if login:
        if status in (401, 404):
            return AuthenticationError(
                f"the gateway refused the username/password for {host}; "
                "check SMSREST['USERNAME'] and SMSREST['PASSWORD']",
                status_code=status,
            )
        if status == 400:
            return AuthenticationError(
                f"the gateway refused the login request for {host} (HTTP 400); "
                "check SMSREST['USERNAME'] and SMSREST['PASSWORD']",
                status_code=status,
                detail=detail,
            )
        if status == 429:
            return RateLimited(
                f"{host} is rate limiting the login (HTTP 429)",
                detail=detail,
                retry_after=parse_retry_after(source.headers.get("Retry-After")),
            )
        return GatewayConnectionError(
            f"could not log in to {host} (unexpected HTTP {status})", status_code=status
        )

    if status == 400:
        return GatewayRejected(
            f"the gateway rejected {call.label} (HTTP 400)", status_code=status, detail=detail
        )
    if status == 401:
        return AuthenticationError(
            f"{host} refused the API keys (HTTP 401) again right after a fresh login; "
            "check the account and SMSREST['AUTH']",
            status_code=status,
            detail=detail,
        )
    if status == 404:
        if call.operation == "order":
            return OrderNotFound(
                f"order {call.order_id!r} not found on {host}", status_code=status, detail=detail
            )
        if call.operation == "cancel":
            return OrderNotFound(
                f"order {call.order_id!r} not found on {host} or no longer cancellable "
                "(only SCHEDULED orders can be cancelled)",
                status_code=status,
                detail=detail,
            )
        return AuthenticationError(
            f"{host} does not know this user_key (HTTP 404 on {call.label}) even after a "
            "fresh login; check SMSREST['USERNAME'] and SMSREST['BASE_URL']",
            status_code=status,
            detail=detail,
        )
    if status == 429:
        retry_after = parse_retry_after(source.headers.get("Retry-After"))
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return RateLimited(
            f"{host} is rate limiting requests (HTTP 429){wait}",
            detail=detail,
            retry_after=retry_after,
        )
    if 500 <= status <= 599:
        return GatewayServerError(
            f"{host} answered HTTP {status} to {call.label}; the request may have been processed",
            status_code=status,
            detail=detail,
        )
    return UnexpectedResponse(
        f"unexpected HTTP {status} from {host} to {call.label}; "
        "the request may have been processed",
        status_code=status,
        detail=detail,
    )


# --- parsing helpers ----------------------------------------------------------------------


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _parse_login_body(text: str) -> _Keys | None:
    # Separate function so that the split keys never sit in the frame that raises.
    parts = text.strip().split(";")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        return None
    return _Keys(parts[0].strip(), parts[1].strip())


def _timeout_pair(timeout: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(timeout, tuple | list):
        connect, read = timeout
        pair = (float(connect), float(read))
    else:
        pair = (float(timeout), float(timeout))
    if not all(v > 0 and math.isfinite(v) for v in pair):
        raise ValueError(f"timeout must be positive (connect, read) seconds, not {timeout!r}")
    return pair


class _RedactCredentials(logging.Filter):
    """Masks ``password=...`` in urllib3's DEBUG lines (it logs ``"GET /login?...``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        if "=" in message and _SECRET_QUERY_RE.search(message):
            record.msg = _SECRET_QUERY_RE.sub(lambda m: f"{m.group(1)}=***", message)
            record.args = ()
        return True


_redaction_lock = threading.Lock()
_redaction_installed = False


def _install_urllib3_redaction() -> None:
    """Add :class:`_RedactCredentials` to urllib3's connection-pool logger, once.

    urllib3 logs every request line with its query string at DEBUG; with query-string login
    that line holds the password. Called when the first client is built (not at import).
    """
    global _redaction_installed
    with _redaction_lock:
        if not _redaction_installed:
            logging.getLogger("urllib3.connectionpool").addFilter(_RedactCredentials())
            _redaction_installed = True


# --- the client ---------------------------------------------------------------------------


class SmsRestClient:
    """A thread-safe client of one gateway account.

    Share one instance per process (per account): the login keys are cached on it and used
    by all its threads; each thread gets its own keep-alive HTTP session.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        auth: AuthMode = "session",
        timeout: float | tuple[float, float] = (3.05, 15.0),
        verify: bool | str = True,
        gateway_timezone: str = "Europe/Rome",
        user_agent: str | None = None,
        login_with_basic_auth: bool = False,
        proxies: Mapping[str, str] | None = None,
        session_idle_relogin: float | None = 270.0,
        pool_maxsize: int = 4,
    ) -> None:
        """
        :param base_url: ``https://<host>/API/v1.0/REST/``; plain ``http://`` only to a
            loopback host (the sandbox). Raises ``SmsRestConfigurationError`` otherwise.
        :param auth: ``"session"`` (``GET login``, key idles out after 5 minutes) or
            ``"token"`` (``GET token``, long-lived access token).
        :param timeout: ``(connect, read)`` seconds, passed on every request. The read
            timeout is between bytes, not a total.
        :param verify: TLS verification, ``True`` or a CA bundle path; passed per request.
        :param gateway_timezone: IANA zone used for dates sent to and read from the gateway.
        :param session_idle_relogin: with ``auth="session"``, log in again before a call
            when the key has been idle this long (seconds); ``None`` relies on 401 only.
        """
        if auth not in ("session", "token"):
            raise ValueError(f"auth must be 'session' or 'token', not {auth!r}")
        if verify is False:
            logger.warning("TLS certificate verification is disabled for the SMS gateway client")
        self.base_url = validate_base_url(base_url)
        self.host = urlsplit(self.base_url).hostname or ""
        self.username = username
        self._password: _Hidden[str] = _Hidden(password)
        self.auth: AuthMode = auth
        self.timeout = _timeout_pair(timeout)
        self.verify = verify
        self.gateway_timezone = gateway_timezone
        self.tz = ZoneInfo(gateway_timezone)
        self.login_with_basic_auth = login_with_basic_auth
        self.proxies = dict(proxies) if proxies else None
        self.session_idle_relogin = session_idle_relogin
        self.pool_maxsize = pool_maxsize
        if user_agent is None:
            from django_smsrest import __version__

            user_agent = f"django-smsrest/{__version__} python-requests/{requests.__version__}"
        self.user_agent = user_agent
        self.stats = ClientStats()

        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._keys: _Keys | None = None
        self._keys_used_at = 0.0
        _install_urllib3_redaction()

    @classmethod
    def from_settings(cls, conf: SmsRestSettings, **overrides: Any) -> SmsRestClient:
        """A client configured from :class:`~django_smsrest.conf.SmsRestSettings`
        (``conf.get_settings()``); ``overrides`` replace constructor arguments."""
        kwargs: dict[str, Any] = {
            "auth": conf.auth,
            "timeout": conf.timeout,
            "verify": conf.verify_tls,
            "gateway_timezone": conf.gateway_timezone,
        }
        kwargs.update(overrides)
        return cls(conf.base_url, conf.username, conf.password, **kwargs)

    def __repr__(self) -> str:
        return f"<SmsRestClient {self.host} user={self.username!r} auth={self.auth}>"

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the calling thread's HTTP session (other threads' close when they end)."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    def __enter__(self) -> SmsRestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_fork(self) -> None:
        # After fork the child must not use the parent's sockets (both would read the same
        # connection) nor a lock another parent thread held at fork time. The keys stay
        # valid: the session lives on the gateway, not in the process.
        pid = os.getpid()
        if pid != self._pid:
            self._pid = pid
            self._lock = threading.Lock()
            self._local = threading.local()

    def _session(self) -> requests.Session:
        local = self._local
        session: requests.Session | None = getattr(local, "session", None)
        if session is None or getattr(local, "pid", None) != os.getpid():
            session = requests.Session()
            session.trust_env = False  # see the module docstring
            adapter = HTTPAdapter(
                max_retries=0, pool_connections=1, pool_maxsize=self.pool_maxsize
            )
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers["User-Agent"] = self.user_agent
            session.headers["Accept"] = "application/json, text/plain;q=0.9"
            if self.proxies:
                session.proxies.update(self.proxies)
            local.session = session
            local.pid = os.getpid()
        return session

    # -- HTTP -----------------------------------------------------------------------------

    def _secrets(self) -> tuple[str, ...]:
        keys = self._keys
        values = [self._password.reveal()]
        if keys is not None:
            values += [keys.auth_key, keys.user_key]
        return tuple(v for v in values if v)

    def _map_error(
        self, source: requests.Response | requests.RequestException, call: _Call
    ) -> GatewayError:
        """:func:`map_error` with this client's host, read timeout and secrets."""
        return map_error(
            source,
            call=call,
            host=self.host,
            read_timeout=self.timeout[1],
            secrets=self._secrets(),
        )

    def _request(
        self,
        call: _Call,
        *,
        params: _Hidden[Mapping[str, str]] | None = None,
        headers: _Hidden[Mapping[str, str]] | None = None,
        json_body: Mapping[str, Any] | None = None,
        basic_auth: bool = False,
    ) -> requests.Response:
        """One HTTP request; transport failures raised as mapped :class:`GatewayError`.

        Never logs the query string or headers; never chains the library's exception.
        """
        session = self._session()
        self.stats._count_request(call)
        error: GatewayError | None = None
        response: requests.Response | None = None
        try:
            response = session.request(
                call.method,
                self.base_url + call.path,
                params=params.reveal() if params is not None else None,
                headers=headers.reveal() if headers is not None else None,
                json=json_body,
                auth=((self.username, self._password.reveal()) if basic_auth else None),
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = self._map_error(exc, call)
            logger.debug("%s failed: %s", call.label, type(error).__name__)
        # Raised here, outside the except block: no __context__ pointing at requests'
        # exception (whose message quotes the full URL, query string included).
        if error is not None:
            raise error from None
        assert response is not None
        logger.debug("%s -> %s", call.label, response.status_code)
        return response

    def _login_locked(self) -> _Keys:
        """Log in (caller holds ``self._lock``); store and return the new keys."""
        path = "token" if self.auth == "token" else "login"
        call = _Call("GET", path, path, "login")
        params: _Hidden[Mapping[str, str]] | None = None
        if not self.login_with_basic_auth:
            params = _Hidden({"username": self.username, "password": self._password.reveal()})
        response = self._request(call, params=params, basic_auth=self.login_with_basic_auth)
        if not 200 <= response.status_code <= 299:
            raise self._map_error(response, call)
        keys = _parse_login_body(response.text)
        if keys is None:
            # The body is not logged nor quoted: it may hold half a key.
            raise GatewayConnectionError(
                f"could not log in to {self.host}: the answer to {call.label} is not "
                "'USER_KEY;KEY'",
                status_code=response.status_code,
            )
        self._keys = keys
        self._keys_used_at = time.monotonic()
        self.stats._count_login()
        logger.debug("logged in to %s (%s auth)", self.host, self.auth)
        return keys

    def login(self) -> None:
        """Log in now (replacing any cached keys). Raises :class:`AuthenticationError` when
        the credentials are refused, :class:`GatewayConnectionError` when the gateway
        cannot be reached or answers nonsense, :class:`RateLimited` on 429."""
        self._check_fork()
        with self._lock:
            self._login_locked()

    def _current_keys(self) -> _Keys:
        """The cached keys, logging in first when there are none (or they idled out)."""
        self._check_fork()
        with self._lock:
            keys = self._keys
            now = time.monotonic()
            idle_out = (
                self.auth == "session"
                and self.session_idle_relogin is not None
                and keys is not None
                and now - self._keys_used_at > self.session_idle_relogin
            )
            if keys is None or idle_out:
                keys = self._login_locked()
            self._keys_used_at = now
            return keys

    def _invalidate(self, keys: _Keys) -> None:
        """Forget ``keys`` unless another thread already replaced them (so N threads that
        got a 401 with the same keys cause one login, not N)."""
        with self._lock:
            if self._keys is keys:
                self._keys = None

    def _auth_headers(self, keys: _Keys) -> _Hidden[Mapping[str, str]]:
        name = "Access_token" if self.auth == "token" else "Session_key"
        return _Hidden({"user_key": keys.user_key, name: keys.auth_key})

    def _call(
        self,
        call: _Call,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """An authenticated request, repeated once after a fresh login when the keys are
        refused (401, or 404 "user_key not found" where 404 cannot mean a missing order).
        Returns only 2xx responses; everything else raises via :func:`map_error`."""
        auth_failures = _auth_failure_status(call.operation)
        hidden_params = _Hidden(params) if params is not None else None
        for attempt in (1, 2):
            keys = self._current_keys()
            response = self._request(
                call, params=hidden_params, headers=self._auth_headers(keys), json_body=json_body
            )
            if response.status_code in auth_failures and attempt == 1:
                # The keys were refused, so the gateway did not act on the request: logging
                # in again and repeating it once is safe, also for POST sms.
                logger.info(
                    "%s refused the API keys (HTTP %s on %s); logging in again",
                    self.host,
                    response.status_code,
                    call.label,
                )
                self._invalidate(keys)
                continue
            break
        if not 200 <= response.status_code <= 299:
            raise self._map_error(response, call)
        return response

    def _json_object(self, response: requests.Response, call: _Call) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise UnexpectedResponse(
                f"HTTP {response.status_code} from {self.host} to {call.label} with a body "
                "that is not the expected JSON object",
                status_code=response.status_code,
                detail=sanitise(response.text or "(empty)", self._secrets(), limit=120),
            )
        return data

    # -- dates ----------------------------------------------------------------------------

    def format_datetime(self, value: datetime) -> str:
        """``value`` (aware) as the gateway's ``yyyyMMddHHmmss`` in ``gateway_timezone``."""
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(
                "the gateway needs an aware datetime (a naive one is ambiguous); "
                "use django.utils.timezone.now() or datetime.now(tz)"
            )
        return value.astimezone(self.tz).strftime(_GATEWAY_DATE_FORMAT)

    def parse_datetime(self, value: Any) -> datetime | None:
        """A gateway date (``yyyyMMddHHmmss`` in ``gateway_timezone``) as an aware
        datetime; ``None`` for empty or unreadable values."""
        if not isinstance(value, str) or not value.strip():
            return None
        value = value.strip()
        if value.endswith(".0"):
            value = value[:-2]
        for fmt in _GATEWAY_DATE_FORMATS:
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=self.tz)
            except ValueError:
                continue
        logger.debug("unreadable gateway date %r", value[:40])
        return None

    # -- API ------------------------------------------------------------------------------

    def send_sms(
        self,
        message: str,
        recipients: str | Iterable[str],
        *,
        message_type: str,
        sender: str | None = None,
        scheduled_delivery_time: datetime | None = None,
        order_id: str | None = None,
        encoding: Literal["gsm", "ucs2"] | None = None,
        return_credits: bool = False,
        return_remaining: bool = True,
        allow_invalid_recipients: bool = False,
        **extra: Any,
    ) -> SendResult:
        """``POST sms``: one order to ``recipients`` (E.164 strings, already normalised).

        Exactly one POST, except the single repeat after a refused key (see the module
        docstring). Any 2xx is success. Pass ``order_id`` (≤ 32 chars of
        ``[A-Za-z0-9_.-]``) so an unknown outcome can be reconciled with :meth:`get_order`.
        ``scheduled_delivery_time`` must be aware; it is sent as ``yyyyMMddHHmmss`` in
        ``gateway_timezone`` together with ``scheduled_delivery_timezone``. ``extra`` takes
        the optional fields in :data:`SEND_EXTRA_FIELDS`; ``None`` values are left out.

        Raises a :class:`~django_smsrest.exceptions.NotSentError` subclass when the
        gateway surely did not accept the order, a
        :class:`~django_smsrest.exceptions.MaybeSentError` subclass when it may have, and
        ``ValueError``/``TypeError`` for bad arguments (before any request).
        """
        unknown = sorted(set(extra) - SEND_EXTRA_FIELDS)
        if unknown:
            raise TypeError(
                f"send_sms() got unexpected keyword argument(s): {', '.join(unknown)}; "
                f"optional gateway fields are {', '.join(sorted(SEND_EXTRA_FIELDS))}"
            )
        numbers = [recipients] if isinstance(recipients, str) else list(recipients)
        if not numbers or not all(isinstance(n, str) and n.strip() for n in numbers):
            raise ValueError("recipients must be a non-empty list of phone numbers")
        if not isinstance(message, str) or not message:
            raise ValueError("message must be a non-empty string")
        if not message_type:
            raise ValueError("message_type is required")
        if order_id is not None and not _ORDER_ID_RE.match(order_id):
            raise ValueError(
                f"order_id {order_id!r} must be 1-32 characters of letters, digits, '_', '.', '-'"
            )
        if encoding is not None and encoding not in ("gsm", "ucs2"):
            raise ValueError(f"encoding must be 'gsm' or 'ucs2', not {encoding!r}")

        body: dict[str, Any] = {
            "message_type": message_type,
            "message": message,
            "recipient": numbers,
            "returnCredits": bool(return_credits),
            "returnRemaining": bool(return_remaining),
            "allowInvalidRecipients": bool(allow_invalid_recipients),
        }
        if sender is not None:
            body["sender"] = sender
        if scheduled_delivery_time is not None:
            body["scheduled_delivery_time"] = self.format_datetime(scheduled_delivery_time)
            body["scheduled_delivery_timezone"] = self.gateway_timezone
        if order_id is not None:
            body["order_id"] = order_id
        if encoding is not None:
            body["encoding"] = encoding
        body.update({k: v for k, v in extra.items() if v is not None})

        call = _Call("POST", "sms", "sms", "send", order_id=order_id)
        response = self._call(call, json_body=body)
        data = self._json_object(response, call)
        result = data.get("result")
        accepted_id = data.get("order_id") or order_id
        total_sent = _int_or_none(data.get("total_sent"))
        if (
            (result is not None and str(result).upper() != "OK")
            or not isinstance(accepted_id, str)
            or total_sent is None
        ):
            raise UnexpectedResponse(
                f"HTTP {response.status_code} from {self.host} to {call.label} without the "
                "documented result/order_id/total_sent; the order may have been accepted",
                status_code=response.status_code,
                detail=sanitise(json.dumps(data)[:200], self._secrets(), limit=200),
            )
        internal = data.get("internal_order_id")
        return SendResult(
            order_id=accepted_id,
            total_sent=total_sent,
            remaining_credits=_int_or_none(data.get("remaining_credits")),
            internal_order_id=str(internal) if internal not in (None, "") else None,
            raw=data,
        )

    def _order_call(self, method: str, order_id: str, operation: Operation) -> _Call:
        if not isinstance(order_id, str) or not order_id:
            raise ValueError("order_id must be a non-empty string")
        return _Call(
            method,
            "sms/" + quote(order_id, safe=""),
            "sms/{order_id}",
            operation,
            order_id=order_id,
        )

    def get_order(self, order_id: str) -> OrderReport:
        """``GET sms/{order_id}``: per-recipient delivery state.

        Raises :class:`~django_smsrest.exceptions.OrderNotFound` on 404 (the gateway never
        accepted that order id, or forgot it) — the answer reconciliation relies on.
        """
        call = self._order_call("GET", order_id, "order")
        response = self._call(call)
        data = self._json_object(response, call)
        items = data.get("recipients")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise UnexpectedResponse(
                f"HTTP {response.status_code} from {self.host} to {call.label}: "
                "'recipients' is not a list",
                status_code=response.status_code,
            )
        recipients: list[RecipientState] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            raw_status = str(item.get("status") or "")
            recipients.append(
                RecipientState(
                    destination=str(item.get("destination") or item.get("recipient") or ""),
                    state=DeliveryState.parse(raw_status),
                    delivery_date=self.parse_datetime(item.get("delivery_date")),
                    raw_status=raw_status,
                )
            )
        return OrderReport(order_id=order_id, recipients=recipients, raw=data)

    def cancel(self, order_id: str) -> None:
        """``DELETE sms/{order_id}``: cancel a scheduled order.

        Raises :class:`~django_smsrest.exceptions.OrderNotFound` when the order does not
        exist or is no longer ``SCHEDULED`` (the gateway answers 404 for both).
        """
        self._call(self._order_call("DELETE", order_id, "cancel"))

    def get_status(self, *, money: bool = True) -> AccountStatus:
        """``GET status?getMoney=...&typeAliases=true``: credits per message type (keys are
        the brand's codes, e.g. ``GP`` for Skebby) and the money balance when asked."""
        call = _Call("GET", "status", "status", "status")
        response = self._call(
            call, params={"getMoney": "true" if money else "false", "typeAliases": "true"}
        )
        data = self._json_object(response, call)
        credits: dict[str, int] = {}
        for item in data.get("sms") or []:
            if isinstance(item, dict) and item.get("type") not in (None, ""):
                quantity = _int_or_none(item.get("quantity"))
                credits[str(item["type"])] = quantity if quantity is not None else 0
        balance: Decimal | None = None
        raw_money = data.get("money")
        if money and raw_money is not None and not isinstance(raw_money, bool):
            try:
                balance = Decimal(str(raw_money))
            except InvalidOperation:
                balance = None
        return AccountStatus(credits=credits, money=balance, raw=data)

    def get_history(
        self,
        date_from: datetime,
        date_to: datetime | None = None,
        *,
        page: int = 1,
        page_size: int = 10,
    ) -> HistoryPage:
        """``GET smshistory``: orders created between ``date_from`` and ``date_to``
        (aware datetimes; ``date_to`` defaults to now on the gateway), one page."""
        if page < 1 or page_size < 1:
            raise ValueError("page and page_size must be >= 1")
        params = {
            "from": self.format_datetime(date_from),
            "timezone": self.gateway_timezone,
            "pageNumber": str(page),
            "pageSize": str(page_size),
        }
        if date_to is not None:
            params["to"] = self.format_datetime(date_to)
        call = _Call("GET", "smshistory", "smshistory", "history")
        response = self._call(call, params=params)
        data = self._json_object(response, call)
        rows = data.get("smshistory") or []
        orders = [
            HistoryEntry(
                order_id=str(row.get("order_id") or ""),
                create_time=self.parse_datetime(row.get("create_time")),
                schedule_time=self.parse_datetime(row.get("schedule_time")),
                message_type=str(row.get("message_type") or ""),
                sender=str(row.get("sender") or ""),
                num_recipients=_int_or_none(row.get("num_recipients")) or 0,
            )
            for row in rows
            if isinstance(row, dict)
        ]
        total = _int_or_none(data.get("total"))
        return HistoryPage(
            total=total if total is not None else len(orders),
            page_number=_int_or_none(data.get("pageNumber")) or page,
            page_size=_int_or_none(data.get("pageSize")) or page_size,
            orders=orders,
        )
