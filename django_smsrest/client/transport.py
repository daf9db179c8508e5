"""HTTP transport: one keep-alive :class:`requests.Session` per thread, timeouts, TLS;
every failure goes through :func:`~django_smsrest.client.errors.map_error`.

Contracts
---------
* **No hidden repetition.** The adapter is mounted with ``max_retries=0`` and redirects are
  never followed (requests turns a redirected POST into a GET), so no library can repeat a
  POST behind our back.
* **Failures are classified by type** (see :mod:`django_smsrest.exceptions`):
  ``NotSentError`` means the gateway surely did not accept the request, ``MaybeSentError``
  means it may have (ask ``GET sms/{order_id}`` before any resend). :func:`map_error` is the
  one place that decides.
* **Nothing chained.** Every error is raised outside the ``except`` block that caught the
  library's exception, so neither ``__cause__`` nor ``__context__`` (nor a traceback frame
  of requests, whose locals hold the URL with the login query string) reaches the caller.
* **Cheap.** One keep-alive session per thread, re-created after ``fork``, and each
  request prepared by :meth:`Transport._prepare` instead of ``Session.request``: the same
  bytes on the wire (a test compares the two), without requests' per-call merging of
  session settings, URL re-parsing and cookie policy: about a third of a POST's CPU on
  this side, which is what limits a flush at zero latency (8 threads of bare requests:
  0.54-0.62 ms of CPU per POST this way, 0.75-0.88 ms through ``Session.request``).

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

import logging
import math
import os
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar, merge_cookies
from requests.hooks import default_hooks
from requests.structures import CaseInsensitiveDict
from requests.utils import get_auth_from_url, requote_uri

from django_smsrest.client.errors import _Call, map_error
from django_smsrest.client.redaction import install_urllib3_redaction
from django_smsrest.conf import validate_base_url
from django_smsrest.exceptions import GatewayConnectionError, GatewayError
from django_smsrest.secret import Secret, reveal

#: Query parameters or headers as the client holds them: secrets stay wrapped until
#: :meth:`Transport._request` hands them to requests.
Fields = Mapping[str, str | Secret]

__all__ = ["ClientStats", "Transport"]

logger = logging.getLogger("django_smsrest.client")


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


def _timeout_pair(timeout: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(timeout, tuple | list):
        connect, read = timeout
        pair = (float(connect), float(read))
    else:
        pair = (float(timeout), float(timeout))
    if not all(v > 0 and math.isfinite(v) for v in pair):
        raise ValueError(f"timeout must be positive (connect, read) seconds, not {timeout!r}")
    return pair


class Transport:
    """HTTP to one gateway: per-thread keep-alive sessions, timeouts, TLS, error mapping.

    Thread-safe. Knows nothing about logging in: :class:`~django_smsrest.client.session.
    AuthSession` builds on it and supplies the secrets that :meth:`_secrets` must mask.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | tuple[float, float] = (3.05, 15.0),
        verify: bool | str = True,
        user_agent: str | None = None,
        proxies: Mapping[str, str] | None = None,
        pool_maxsize: int = 4,
    ) -> None:
        if verify is False:
            logger.warning("TLS certificate verification is disabled for the SMS gateway client")
        self.base_url = validate_base_url(base_url)
        self.host = urlsplit(self.base_url).hostname or ""
        # The base as requests prepares a URL (an IDN host IDNA-encoded, the path quoted),
        # once: :meth:`_prepare` only appends a path and a query to it.
        base = requests.PreparedRequest()
        base.prepare_url(self.base_url, None)
        self._prepared_base: str = base.url or self.base_url
        self._base_has_auth = any(get_auth_from_url(self.base_url))
        self.timeout = _timeout_pair(timeout)
        self.verify = verify
        self.proxies = dict(proxies) if proxies else None
        self.pool_maxsize = pool_maxsize
        if user_agent is None:
            from importlib.metadata import version

            ours = version("django-smsrest")
            user_agent = f"django-smsrest/{ours} python-requests/{requests.__version__}"
        self.user_agent = user_agent
        self.stats = ClientStats()

        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._local = threading.local()
        install_urllib3_redaction()

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the calling thread's HTTP session (other threads' close when they end)."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

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

    def _secrets(self) -> tuple[Secret, ...]:
        """The values to mask in every message (overridden by the login layer)."""
        return ()

    def _map_error(self, source: requests.Response | BaseException, call: _Call) -> GatewayError:
        """:func:`map_error` with this client's host, read timeout and secrets."""
        if (
            isinstance(source, OSError)
            and not isinstance(source, requests.RequestException)
            and isinstance(self.verify, str)
            and not os.path.exists(self.verify)
        ):
            # requests checks the CA bundle path before it connects (HTTPAdapter.cert_verify)
            # and raises a bare OSError: nothing was sent, and only a setting can fix it.
            return GatewayConnectionError(
                f"could not send {call.label} to {self.host}: the CA bundle given as "
                f"SMSREST['VERIFY_TLS'] ({self.verify!r}) does not exist; nothing was sent"
            )
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
        params: Fields | None = None,
        headers: Fields | None = None,
        json_body: Mapping[str, Any] | list[Any] | None = None,
        auth: tuple[str, Secret] | None = None,
    ) -> requests.Response:
        """One HTTP request; any failure raised as a mapped :class:`GatewayError`.

        Secrets are revealed only in the arguments handed to :meth:`_prepare` and
        requests, never bound to a local here. *Every* exception they raise is caught (not
        only ``RequestException``: a missing CA bundle is a bare ``OSError``, a bad header
        a ``ValueError``), mapped, and the mapped error is raised outside the ``except``
        block: the caller's traceback then ends in this frame, so neither a chained
        exception nor their frames (whose locals hold the URL with the login query string
        and the key headers) reach a log or a DEBUG page. Never logs the query string or
        headers.
        """
        session = self._session()
        self.stats._count_request(call)
        error: GatewayError | None = None
        response: requests.Response | None = None
        try:
            response = session.send(
                self._prepare(
                    session,
                    call,
                    params=_plain(params),
                    headers=_plain(headers),
                    json_body=json_body,
                    auth=(auth[0], auth[1].reveal()) if auth is not None else None,
                ),
                timeout=self.timeout,
                verify=self.verify,
                proxies=self.proxies or {},
                stream=False,
                cert=None,
                allow_redirects=False,
            )
        except Exception as exc:  # every one: mapped below, see the docstring
            error = self._map_error(exc, call)
            logger.debug("%s failed: %s", call.label, type(error).__name__)
        if error is not None:
            raise error from None
        assert response is not None
        logger.debug("%s -> %s", call.label, response.status_code)
        return response

    def _prepare(
        self,
        session: requests.Session,
        call: _Call,
        *,
        params: dict[str, str] | None,
        headers: dict[str, str] | None,
        json_body: Mapping[str, Any] | list[Any] | None,
        auth: tuple[str, str] | None,
    ) -> requests.PreparedRequest:
        """The request ``session.request(...)`` would prepare for this client's sessions
        (no session params, auth or hooks, ``trust_env`` off), built directly: the session
        headers under the call's (checked as requests checks them), the query encoded as
        requests encodes ``params``, the JSON body and its length by requests' own
        ``prepare_body``, the cookies a gateway set. ``tests/test_transport_prepare.py``
        holds the two equal."""
        prepared = requests.PreparedRequest()
        prepared.prepare_method(call.method)
        url = self._prepared_base + call.path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        prepared.url = requote_uri(url)
        # Our sessions' headers are all text (set in :meth:`_session`). prepare_headers
        # checks each as requests does (a key with a line break from a hostile login
        # answer is refused here, before anything is sent).
        merged: CaseInsensitiveDict[str] = CaseInsensitiveDict(
            cast("Mapping[str, str]", session.headers)
        )
        if headers:
            merged.update(headers)
        prepared.prepare_headers(merged)
        # A copy of the session's jar, as Session.prepare_request makes: the redirect
        # reader (``Response.next``) extends the request's own jar.
        prepared.prepare_cookies(merge_cookies(RequestsCookieJar(), session.cookies))
        prepared.prepare_body(None, None, json_body)
        if auth is not None or self._base_has_auth:
            prepared.prepare_auth(auth)
        prepared.hooks = default_hooks()
        return prepared


def _plain(fields: Fields | None) -> dict[str, str] | None:
    """``fields`` with every :class:`Secret` revealed, for requests (and nothing else)."""
    if fields is None:
        return None
    return {name: reveal(value) for name, value in fields.items()}
