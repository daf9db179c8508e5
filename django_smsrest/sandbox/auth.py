"""The sandbox's one account: login, access tokens, session keys and their idle timeout.

:class:`Accounts` keeps the issued keys and checks the auth headers of every call. It holds
no lock of its own: :class:`~django_smsrest.sandbox.state.SandboxState` calls it with its
lock held (the methods say which), so a login and a call racing on the same session see
one consistent table.

What the gateway documents (reference §1): wrong credentials on ``login``/``token`` are a
404 (not a 401); a missing, invalid or idle session key or token is a 401; an unknown
``user_key`` is a 404 "user_key not found" (§1.4, E4); ``checksession`` answers ``true`` /
``false`` without renewing the session, and its page lists a 404 for a bad key.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from django_smsrest.sandbox.config import SandboxConfig
from django_smsrest.sandbox.replies import Reply, ko, text_reply

_UNAUTHORIZED = (
    "Missing, invalid or expired credentials: send the user_key header with Session_key "
    "(from GET login; it expires after {idle} s without calls) or Access_token (from GET "
    "token)."
)

# Header spellings the documentation uses; others are matched too but remembered, so a test
# can see that a client let its HTTP library rewrite them (the Perl quick-start warns).
_CANONICAL_HEADERS = {
    "user_key": "user_key",
    "session_key": "Session_key",
    "access_token": "Access_token",
}

#: Sessions kept before idle ones are pruned at the next login.
_PRUNE_ABOVE = 10_000


class Accounts:
    """Issued session keys and access tokens, and the login counters.

    ``clock`` is the sandbox clock (epoch seconds); ``config`` the live options (for the
    account, ``session_idle``).
    """

    def __init__(self, config: SandboxConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.user_key = secrets.token_hex(8)
        self.sessions: dict[str, float] = {}
        self.tokens: set[str] = set()
        self.logins = 0
        self.tokens_issued = 0
        self.noncanonical: set[str] = set()

    def reset_counters(self) -> None:
        """Forget the counters (keys stay valid: a logged-in client stays logged in)."""
        self.logins = self.tokens_issued = 0
        self.noncanonical.clear()

    def unauthorized(self) -> Reply:
        return ko(401, _UNAUTHORIZED.format(idle=int(self.config.session_idle)), "UNAUTHORIZED")

    def is_user_key(self, user_key: str) -> bool:
        """Whether ``user_key`` is this account's (constant-time comparison)."""
        return secrets.compare_digest(user_key.encode(), self.user_key.encode())

    def unknown_user_key(self) -> Reply:
        """The documented 404 for a user key that is not the account's (§1.4, E4)."""
        return ko(
            404,
            "[Not found] user_key not found: use the user_key returned by GET login or GET token.",
            "USER_KEY_NOT_FOUND",
        )

    def authenticate(self, headers: Any) -> Reply | None:
        """Check user_key + Session_key/Access_token and renew the session (lock held).

        ``None`` when the call may go on; a 404 for an unknown ``user_key`` (documented,
        whatever session key comes with it); a 401 for a missing user key or a missing,
        unknown or idle session key / token.
        """
        for name in headers:
            canonical = _CANONICAL_HEADERS.get(name.lower())
            if canonical is not None and name != canonical:
                self.noncanonical.add(name)
        user_key = headers.get("user_key")
        if not user_key:
            return self.unauthorized()
        if not self.is_user_key(user_key):
            return self.unknown_user_key()
        token = headers.get("Access_token")
        if token:
            return None if token in self.tokens else self.unauthorized()
        session = headers.get("Session_key") or ""
        last_used = self.sessions.get(session)
        now = self.clock()
        if last_used is None or now - last_used > self.config.session_idle:
            self.sessions.pop(session, None)
            return self.unauthorized()
        self.sessions[session] = now
        return None

    def credentials(self, query: Mapping[str, str], headers: Any) -> tuple[str, str] | None:
        """(username, password) from the query string or HTTP Basic; ``None`` if neither."""
        if "username" in query or "password" in query:
            return query.get("username", ""), query.get("password", "")
        scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, sep, password = (
                    base64.b64decode(encoded, validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                return None
            return (user, password) if sep else None
        return None

    def check_password(self, user: str, password: str) -> bool:
        """Constant-time comparison with the configured account (no lock needed)."""
        good = secrets.compare_digest(user.encode(), self.config.username.encode())
        good &= secrets.compare_digest(password.encode(), self.config.password.encode())
        return good

    def issue(self, token: bool) -> Reply:
        """A new session key or access token, as ``USER_KEY;KEY`` text (lock held)."""
        key = secrets.token_hex(16)
        if token:
            self.tokens.add(key)
            self.tokens_issued += 1
        else:
            if len(self.sessions) > _PRUNE_ABOVE:
                self._prune_sessions()
            self.sessions[key] = self.clock()
            self.logins += 1
        return text_reply(200, f"{self.user_key};{key}")

    def _prune_sessions(self) -> None:
        limit = self.clock() - self.config.session_idle
        for key in [k for k, used in self.sessions.items() if used < limit]:
            del self.sessions[key]

    def checksession(self, headers: Any) -> Reply:
        """``"true"``/``"false"``: is the session valid? Does not renew it (lock held).

        A ``user_key`` that is not this account's is a 404, as the documentation's
        ``checksession`` page lists.
        """
        user_key = headers.get("user_key") or ""
        if user_key and not self.is_user_key(user_key):
            return self.unknown_user_key()
        used = self.sessions.get(headers.get("Session_key") or "")
        valid = (
            user_key == self.user_key
            and used is not None
            and self.clock() - used <= self.config.session_idle
        )
        return text_reply(200, "true" if valid else "false")


__all__ = ["Accounts"]
