"""Login and API keys: ``GET login`` / ``GET token``, the keys shared by all threads, and the
one locked re-login after the gateway refuses them.

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

The only repetition of a request is after a 401 (or a 404 "user_key not found"), which
proves the gateway did not accept it: the client logs in again once (one login for N
threads that were refused together) and repeats the request once; a second time only when
the repeat used keys another thread had logged in for (they may have expired before this
thread used them), so the refusal that counts is always one right after a login of the
calling thread's own.

How long one call can take
--------------------------
At most :data:`CALL_TRIES` tries, and each may wait for another thread's login (the wait
for the shared lock is bounded by one exchange: past it the call gives up, surely not
sent), log in itself and send the request, each exchange bounded by ``connect + read``.
:meth:`AuthSession.max_call_seconds` is that bound; the outbox keeps a message's lease at
least that long before a POST starts, so no lease can expire under a POST still in flight.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import requests

from django_smsrest.client.errors import Operation, _Call, is_user_key_404
from django_smsrest.client.transport import Fields, Transport
from django_smsrest.exceptions import GatewayConnectionError
from django_smsrest.secret import Secret

__all__ = ["AuthMode", "AuthSession"]

logger = logging.getLogger("django_smsrest.client")

AuthMode = Literal["session", "token"]

#: One authenticated request is sent at most this many times (see :meth:`AuthSession._call`).
CALL_TRIES = 3
#: Exchanges each try may take: wait for another thread's login, log in, the request.
_EXCHANGES_PER_TRY = 3


@dataclass(frozen=True, repr=False)
class _Keys:
    """The pair answered by ``login``/``token``; identity marks one login."""

    user_key: Secret
    auth_key: Secret

    def __repr__(self) -> str:
        return "<_Keys hidden>"


def _parse_login_body(response: requests.Response) -> _Keys | None:
    # Separate function that cannot raise, so that the plain keys never sit in a frame
    # of a traceback; they leave it wrapped.
    parts = (response.text or "").strip().split(";")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        return None
    return _Keys(Secret(parts[0].strip()), Secret(parts[1].strip()))


def _keys_refused(response: requests.Response, operation: Operation) -> bool:
    """Whether ``response`` means "keys refused": 401 everywhere; 404 where it cannot mean
    a missing order, and on ``sms/{order_id}`` when its body says the user_key is unknown
    ("[Not found] The User_key was not found")."""
    if response.status_code == 401:
        return True
    if response.status_code != 404:
        return False
    return operation not in ("order", "cancel") or is_user_key_404(response)


class AuthSession(Transport):
    """A :class:`Transport` logged in to one account: the keys are cached on the instance,
    shared by all its threads, renewed once when refused."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str | Secret,
        *,
        auth: AuthMode = "session",
        login_with_basic_auth: bool = False,
        session_idle_relogin: float | None = 270.0,
        **transport: Any,
    ) -> None:
        password = Secret(password)  # first: no plain str in this frame from here on
        if auth not in ("session", "token"):
            raise ValueError(f"auth must be 'session' or 'token', not {auth!r}")
        super().__init__(base_url, **transport)
        self.username = username
        self._password = password
        self.auth: AuthMode = auth
        self.login_with_basic_auth = login_with_basic_auth
        self.session_idle_relogin = session_idle_relogin
        self._keys: _Keys | None = None
        self._keys_used_at = 0.0

    def _secrets(self) -> tuple[Secret, ...]:
        keys = self._keys
        values = [self._password]
        if keys is not None:
            values += [keys.auth_key, keys.user_key]
        return tuple(v for v in values if v)

    def _login_locked(self) -> _Keys:
        """Log in (caller holds ``self._lock``); store and return the new keys."""
        path = "token" if self.auth == "token" else "login"
        call = _Call("GET", path, path, "login")
        params: Fields | None = None
        basic: tuple[str, Secret] | None = None
        if self.login_with_basic_auth:
            basic = (self.username, self._password)
        else:
            params = {"username": self.username, "password": self._password}
        response = self._request(call, params=params, auth=basic)
        if not 200 <= response.status_code <= 299:
            raise self._map_error(response, call)
        keys = _parse_login_body(response)
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
        with self._keys_lock():
            self._login_locked()

    def max_call_seconds(self) -> float:
        """The longest one authenticated call can take, in seconds: :data:`CALL_TRIES`
        tries of (wait for another thread's login + own login + the request), each
        exchange bounded by ``connect + read`` (see the module docstring)."""
        return CALL_TRIES * _EXCHANGES_PER_TRY * sum(self.timeout)

    @contextmanager
    def _keys_lock(self) -> Iterator[None]:
        """The lock shared by the threads' logins, waited for at most one exchange (a
        login of another thread): past that the call gives up before sending anything,
        so the time a call can take stays bounded (:meth:`max_call_seconds`)."""
        if not self._lock.acquire(timeout=sum(self.timeout)):
            raise GatewayConnectionError(
                f"could not log in to {self.host}: another thread's login took longer "
                f"than {sum(self.timeout):g} s; nothing was sent"
            )
        try:
            yield
        finally:
            self._lock.release()

    def _current_keys(self) -> _Keys:
        """The cached keys, logging in first when there are none (or they idled out)."""
        return self._keys_for_call()[0]

    def _keys_for_call(self) -> tuple[_Keys, bool]:
        """:meth:`_current_keys`, and whether this call logged in to get them."""
        self._check_fork()
        with self._keys_lock():
            keys = self._keys
            now = time.monotonic()
            idle_out = (
                self.auth == "session"
                and self.session_idle_relogin is not None
                and keys is not None
                and now - self._keys_used_at > self.session_idle_relogin
            )
            logged_in = keys is None or idle_out
            if logged_in:
                keys = self._login_locked()
            self._keys_used_at = now
            assert keys is not None
            return keys, logged_in

    def _invalidate(self, keys: _Keys) -> None:
        """Forget ``keys`` unless another thread already replaced them (so N threads that
        got a 401 with the same keys cause one login, not N)."""
        with self._lock:
            if self._keys is keys:
                self._keys = None

    def _auth_headers(self, keys: _Keys) -> Fields:
        name = "Access_token" if self.auth == "token" else "Session_key"
        return {"user_key": keys.user_key, name: keys.auth_key}

    def _call(
        self,
        call: _Call,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | list[Any] | None = None,
    ) -> requests.Response:
        """An authenticated request, repeated once after a fresh login when the keys are
        refused (401; 404 "user_key not found", see :func:`_keys_refused`).
        Returns only 2xx responses; everything else raises via :func:`map_error`."""
        for attempt in range(1, CALL_TRIES + 1):
            keys, own_login = self._keys_for_call()
            response = self._request(
                call, params=params, headers=self._auth_headers(keys), json_body=json_body
            )
            # Repeated once after a refusal; a second time only when the keys refused on
            # the repeat came from another thread's login (threads share the keys, and the
            # session may have expired between that login and this use): the refusal is
            # final only after a login of this call's own.
            final = attempt == CALL_TRIES or (attempt == 2 and own_login)
            if not final and _keys_refused(response, call.operation):
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
