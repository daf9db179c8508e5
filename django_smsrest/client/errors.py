"""The one mapping from a failed HTTP exchange to the app's exceptions: :func:`map_error`.

The question it answers is *could the gateway have accepted the request?*
:class:`~django_smsrest.exceptions.NotSentError` subclasses mean surely not (connection
refused, TLS refused, 400, 401 after a fresh login, 429); ``MaybeSentError`` subclasses mean
perhaps (read timeout, connection dropped after the request was written, 5xx, an answer this
client cannot read): ask ``GET sms/{order_id}`` before any resend. Messages are built here
from status codes, exception *types* and the gateway's own words, redacted; never from a
library's message, which may quote the URL with the login query string.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import math
import os
import re
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import unquote, urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError

from django_smsrest.client.redaction import redact
from django_smsrest.exceptions import (
    AuthenticationError,
    ConnectionDropped,
    GatewayConnectionError,
    GatewayError,
    GatewayRejected,
    GatewayServerError,
    GatewayTimeout,
    KeysRefused,
    OrderNotFound,
    RateLimited,
    UnexpectedResponse,
)

__all__ = ["RETRY_AFTER_CAP_SECONDS", "Operation", "map_error", "parse_retry_after"]

Operation = Literal["login", "send", "order", "cancel", "status", "history", "pin"]

#: A ``Retry-After`` longer than this is capped (seconds). urllib3 allows 6 hours; an SMS
#: outbox that waits more than an hour should rather alert a human.
RETRY_AFTER_CAP_SECONDS = 3600.0


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


TransportKind = Literal["invalid", "connect", "timeout", "dropped", "other"]

# Raised while the request is being prepared or its head written (an invalid URL or header,
# a body that is not JSON): the gateway cannot have processed it.
_INVALID_REQUEST_ERRORS = (
    ValueError,
    requests.exceptions.InvalidJSONError,
    requests.exceptions.URLRequired,
)


def _transport_kind(exc: BaseException) -> TransportKind:
    """Tell "could not connect" (surely not sent) from "timed out" and "dropped" (maybe sent).

    requests raises ``ConnectionError`` for both a refused connection and a connection the
    server closed mid-request; only the wrapped urllib3 exception tells them apart:
    ``NewConnectionError`` (refused, unreachable), ``NameResolutionError`` (a subclass) and
    ``ConnectTimeoutError`` happen before a byte of the request is written;
    ``ProtocolError("Connection aborted.", RemoteDisconnected(...))``, ``ConnectionResetError``
    and ``ChunkedEncodingError`` after. Anything not recognised is treated as maybe-sent,
    the safe side (it costs one reconciliation GET, never a duplicate SMS). ``"other"`` is
    a request error that is not about the connection (an undecodable body). ``"invalid"``
    is a request that could not be built (``InvalidURL``, ``InvalidHeader``, any
    ``ValueError``): not sent. A bare ``OSError`` (requests lets a few through, ``ssl``
    errors among them) counts as dropped, anything else as ``"other"``: maybe sent.
    """
    if isinstance(exc, _INVALID_REQUEST_ERRORS) and not isinstance(
        exc, requests.exceptions.JSONDecodeError
    ):
        return "invalid"
    if not isinstance(exc, requests.RequestException):
        return "dropped" if isinstance(exc, OSError) else "other"
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
    # ContentDecodingError, ...: an answer arrived but could not be read.
    return "other"


def _cause_text(exc: BaseException) -> str:
    """A short, URL-free description of the innermost cause ("ConnectionRefusedError:
    Connection refused"). Built from exception types and the operating system's text for
    an ``errno`` only: library messages (and even an ``OSError``'s own ``strerror``) may
    quote URLs with the login query string, so they are never used."""
    causes = list(_causes(exc))
    for cause in reversed(causes):
        if (
            isinstance(cause, OSError)
            and not isinstance(cause, ssl.SSLError)  # its errno is not an OS errno
            and isinstance(cause.errno, int)
            and cause.errno > 0
        ):
            return f"{type(cause).__name__}: {os.strerror(cause.errno)}"
    for cause in reversed(causes):
        if isinstance(cause, ssl.SSLError):
            # OpenSSL's reason code and verification message: short fixed texts
            # ("CERTIFICATE_VERIFY_FAILED", "self-signed certificate"), never a URL.
            words = [
                str(w)
                for w in (getattr(cause, "reason", None), getattr(cause, "verify_message", None))
                if isinstance(w, str) and w and len(w) <= 80
            ]
            return ": ".join(
                [type(cause).__name__, ", ".join(words)] if words else [type(cause).__name__]
            )
        if isinstance(cause, http.client.HTTPException):
            return type(cause).__name__
    return type(causes[-1]).__name__ if causes else type(exc).__name__


# Where gateways put their reason, most specific first: Esendex Italy / smSend
# ``error_message``, then the usual REST spellings.
_REASON_KEYS = ("error_message", "message", "error", "detail", "errors", "error_description")
# Words that say nothing by themselves: never shown as the reason.
_EMPTY_WORDS = frozenset({"", "ko", "error", "failed", "fail", "false", "null", "none"})
_USER_KEY_RE = re.compile(r"(?i)user[ _-]?key")


def _reason(value: object, depth: int = 0) -> str | None:
    """The human words in ``value`` (a string, a number, a list of them, or an object
    holding them under one of :data:`_REASON_KEYS`, or under field names)."""
    if depth > 3 or value is None or isinstance(value, bool):
        return None
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return None if text.lower() in _EMPTY_WORDS else text
    if isinstance(value, list):
        parts = [r for r in (_reason(item, depth + 1) for item in value) if r]
        return "; ".join(parts) or None
    if isinstance(value, dict):
        for key in _REASON_KEYS:
            found = _reason(value.get(key), depth + 1)
            if found:
                return found
        # {"recipient": ["invalid number"]}: field-keyed validation errors.
        parts = [f"{k}: {r}" for k, v in value.items() if (r := _reason(v, depth + 1))]
        return "; ".join(parts) or None
    return None


def _response_detail(response: requests.Response, secrets: Iterable[object]) -> str | None:
    """The gateway's own reason from an error body, whatever key carries it.

    JSON: the first of ``error_message`` (Esendex Italy), ``message``, ``error``,
    ``detail``, ``errors`` (a list or a field-keyed object), with `` (code X)`` appended
    when the body has a ``code``; a plain-text body as it is. Never the bare ``result:
    "KO"``, which says nothing: a body with no reason gives "no reason given". Redacted
    (secrets, control characters) and truncated.
    """
    try:
        text = response.text or ""
    except Exception:  # a broken body must not hide the status code
        return None
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return redact(text, secrets)
    if isinstance(data, dict):
        reason = _reason({k: data.get(k) for k in _REASON_KEYS})
        code = data.get("code")
        if code not in (None, "") and not isinstance(code, dict | list):
            reason = f"{reason} (code {code})" if reason else f"code {code}"
        if reason is None:
            rest = {k: v for k, v in data.items() if k != "result"}
            reason = json.dumps(rest, ensure_ascii=False) if rest else "no reason given"
        return redact(reason, secrets)
    return redact(_reason(data) or text, secrets)


def _order_id_in_url(response: requests.Response) -> str | None:
    """The ``{order_id}`` of a ``.../sms/{order_id}`` request, else ``None``."""
    _, sep, tail = urlsplit(response.url or "").path.rpartition("/sms/")
    return unquote(tail) if sep and tail and "/" not in tail else None


def is_user_key_404(response: requests.Response) -> bool:
    """A 404 whose body says the ``user_key`` is unknown ("[Not found] The User_key was
    not found"): the keys were refused, not an order missing.

    On ``sms/{order_id}`` the order id is taken out of the body first: an order-not-found
    answer may quote it, and an id such as ``user-key-7`` must not read as the keys being
    refused (that would log in again and raise ``AuthenticationError``, not
    ``OrderNotFound``).
    """
    if response.status_code != 404:
        return False
    try:
        text = response.text
        order_id = _order_id_in_url(response)
        if order_id:
            text = text.replace(order_id, "")
        return bool(_USER_KEY_RE.search(text[:500]))
    except Exception:  # an undecodable body: not the gateway's text about keys
        return False


def _redirect_target(response: requests.Response, secrets: Iterable[object]) -> str:
    """`` to https://host/path`` from ``Location`` (query and fragment dropped), or ``""``."""
    location = response.headers.get("Location") or ""
    parts = urlsplit(location)
    if not parts.netloc and not parts.path:
        return ""
    return " to " + redact(
        f"{parts.scheme + '://' if parts.scheme else ''}{parts.netloc}{parts.path}",
        secrets,
        limit=120,
    )


def map_error(
    source: requests.Response | BaseException,
    *,
    call: _Call,
    host: str,
    read_timeout: float | None = None,
    secrets: Iterable[object] = (),
) -> GatewayError:
    """The one mapping from a failed HTTP exchange to the app's exception hierarchy.

    ``source`` is either a non-2xx response (after the client's single re-login, where that
    applies) or whatever exception requests raised (not only ``RequestException``:
    ``OSError``, ``ValueError``, ``ssl.SSLError`` get through it too). The returned
    exception's message never quotes a URL, a query string, a header or a secret; callers
    raise it *outside* the ``except`` block so that no library exception is chained to it.

    A failure of the login itself is never "maybe sent": nothing was sent yet. Transport
    failures, 5xx and unreadable answers of ``login`` therefore map to
    :class:`GatewayConnectionError` (not sent, retryable).
    """
    secrets = tuple(s for s in secrets if s)
    login = call.operation == "login"

    if not isinstance(source, requests.Response):
        kind = _transport_kind(source)
        cause = redact(_cause_text(source), secrets)
        if kind == "timeout":
            cause = f"no answer within {read_timeout:g} s" if read_timeout else "timed out"
        if login:
            return GatewayConnectionError(f"could not log in to {host} ({cause})")
        if kind == "invalid":
            return GatewayConnectionError(
                f"could not build the request {call.label} to {host} ({cause}); nothing was sent"
            )
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
        if 300 <= status <= 399:
            return GatewayConnectionError(
                f"could not log in to {host}: it answered with a redirect (HTTP {status})"
                f"{_redirect_target(source, secrets)}, which this client never follows; "
                "check SMSREST['BASE_URL']",
                status_code=status,
            )
        return GatewayConnectionError(
            f"could not log in to {host} (unexpected HTTP {status})", status_code=status
        )

    if status == 400:
        return GatewayRejected(
            f"the gateway rejected {call.label} (HTTP 400)", status_code=status, detail=detail
        )
    if status == 401:
        return KeysRefused(
            f"{host} refused the API keys (HTTP 401) again right after a fresh login; "
            "check the account and SMSREST['AUTH']",
            status_code=status,
            detail=detail,
        )
    if status == 404 and not is_user_key_404(source):
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
    if status == 404:
        return AuthenticationError(
            f"{host} does not know this user_key (HTTP 404 on {call.label}) even after a "
            "fresh login; check SMSREST['USERNAME'] and SMSREST['BASE_URL']",
            status_code=status,
            detail=detail,
        )
    if status == 429:
        retry_after = parse_retry_after(source.headers.get("Retry-After"))
        # The sandbox (and maybe the gateway) already says it in the detail: once is enough.
        said = detail is not None and "retry after" in detail.lower()
        wait = f"; retry after {retry_after:g} s" if retry_after is not None and not said else ""
        return RateLimited(
            f"{host} is rate limiting requests (HTTP 429){wait}",
            detail=detail,
            retry_after=retry_after,
        )
    if 300 <= status <= 399:
        processed = "; the request may have been processed" if call.method != "GET" else ""
        return UnexpectedResponse(
            f"{host} answered {call.label} with a redirect (HTTP {status})"
            f"{_redirect_target(source, secrets)}, which this client never follows (a "
            f"redirected POST would be repeated as a GET); check SMSREST['BASE_URL']{processed}",
            status_code=status,
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
