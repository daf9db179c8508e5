"""The sandbox gateway's state, independent of any HTTP server and of the endpoints.

:class:`SandboxState` holds what the gateway knows and the gate every call passes
(:meth:`SandboxState.precheck`: rate limit, authentication, faults); the endpoints
(:mod:`.api` and the modules it dispatches to) read and change it, and the HTTP layer
(:mod:`django_smsrest.sandbox.server`) only moves bytes. Its parts, by job:

* :mod:`~django_smsrest.sandbox.auth`: the account, session keys, access tokens;
* :mod:`~django_smsrest.sandbox.orders`: accepted orders, POST counts, credits;
* :mod:`~django_smsrest.sandbox.delivery`: the per-recipient state simulation;
* :mod:`~django_smsrest.sandbox.faults`: injected faults and latency;
* :mod:`~django_smsrest.sandbox.inbound`: the SMS the account received.

All shared data sits behind one lock (this class's) and every critical section is a few
dict operations, so a single process serves well over 1,000 ``POST sms`` per second. The
clock is wall time plus an offset that :meth:`SandboxState.advance` moves forward, so a
test can jump past a scheduled time without sleeping.
"""

from __future__ import annotations

import math
import threading
import time
import zoneinfo
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

from django_smsrest.sandbox.aliases import AliasBook
from django_smsrest.sandbox.auth import Accounts
from django_smsrest.sandbox.blacklist import Blacklist
from django_smsrest.sandbox.config import STARTUP_ONLY, SandboxConfig
from django_smsrest.sandbox.delivery import TEST_NUMBERS
from django_smsrest.sandbox.faults import Faults
from django_smsrest.sandbox.inbound import Inbox
from django_smsrest.sandbox.orders import OrderBook
from django_smsrest.sandbox.replies import SEND_LABELS, Reply, ko
from django_smsrest.sandbox.twofactor import PinBook

#: How far :meth:`SandboxState.advance` may move the clock ahead of wall time (100 years).
MAX_CLOCK_OFFSET = 100 * 365 * 86400.0
#: ``/_sandbox/orders`` keeps the newest delivery callbacks, at most this many.
CALLBACKS_KEPT = 1000


class SandboxState:
    """Accounts, orders, credits, faults and counters of one sandbox gateway.

    Thread-safe: the HTTP server answers each connection in its own thread.
    Tests in the same process may call :meth:`configure`, :meth:`snapshot`,
    :meth:`post_count`, :meth:`advance` and :meth:`reset` directly.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._offset = 0.0
        self.faults = Faults(self.config)
        self.accounts = Accounts(self.config, self.now)
        self.book = OrderBook(self.config)
        self.inbox = Inbox(self.config)
        self.pins = PinBook()
        self.blacklist = Blacklist()
        self.alias_book = AliasBook()
        self._requests: Counter[str] = Counter()
        #: Bumped by every reset, so that the callback watcher forgets what it saw.
        self.book_generation = 0
        self._callbacks: deque[dict[str, Any]] = deque(maxlen=CALLBACKS_KEPT)

    @property
    def user_key(self) -> str:
        """The account's user key (what ``login``/``token`` answer before the ``;``)."""
        return self.accounts.user_key

    # The live key tables, for tests that look for secrets leaking (read with _lock held).
    @property
    def _sessions(self) -> dict[str, float]:
        return self.accounts.sessions

    @property
    def _tokens(self) -> set[str]:
        return self.accounts.tokens

    # --- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        """Sandbox time (epoch seconds): wall time plus what :meth:`advance` added."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward: deliveries progress, sessions idle, schedules fire.

        ``ValueError`` for a negative or non-finite step, or one that would put the clock
        more than :data:`MAX_CLOCK_OFFSET` seconds ahead of wall time (dates that far out
        cannot be written any more).
        """
        try:
            seconds = float(seconds)
        except OverflowError:
            raise ValueError("seconds is too large") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(
                "the sandbox clock only moves forward, by a finite number of seconds, "
                f"not {seconds!r}"
            )
        with self._lock:
            if self._offset + seconds > MAX_CLOCK_OFFSET:
                raise ValueError(
                    f"the sandbox clock may run at most {MAX_CLOCK_OFFSET:g} s (100 years) "
                    "ahead of wall time"
                )
            self._offset += seconds

    @property
    def clock_offset(self) -> float:
        """Seconds :meth:`advance` has added to wall time since the start or last reset."""
        return self._offset

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.config.timezone)

    # --- control -----------------------------------------------------------------------------

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change options at run time (see :class:`SandboxConfig`); return the public config.

        Two actions are accepted besides the options: ``expire_sessions=True`` makes every
        session key issued so far invalid (new logins work), ``revoke_tokens=True`` the same
        for access tokens. Raises ``ValueError`` for an unknown or invalid option.
        """
        options = dict(options)
        expire = options.pop("expire_sessions", False)
        revoke = options.pop("revoke_tokens", False)
        fixed = STARTUP_ONLY.intersection(options)
        if fixed:
            raise ValueError(f"{', '.join(sorted(fixed))} can only be set when the sandbox starts")
        with self._lock:
            self.config.update(options)
            if "credits" in options:
                self.book.credits = dict(self.config.credits)
            if "seed" in options:
                self.faults.reseed()
            if expire:
                self.accounts.sessions.clear()
            if revoke:
                self.accounts.tokens.clear()
            return self.config.public()

    def reset(self) -> None:
        """Forget orders, received SMS and counters, refill credits, faults off, clock reset.

        Sessions and tokens stay valid, so a client that is logged in stays logged in.
        """
        with self._lock:
            self.config.reset_faults()
            self.faults.reseed()
            self._offset = 0.0
            self.book.clear()
            self.inbox.clear()
            self.pins.clear()
            self.blacklist.clear()
            self.alias_book.clear()
            self._callbacks.clear()
            self.book_generation += 1
            self._requests.clear()
            self.accounts.reset_counters()

    # --- inspection --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything ``GET /_sandbox/orders`` shows: orders (oldest first) and counters.

        ``post_counts`` counts every send POST (``sms``, ``paramsms``, ``smstogroups``;
        ``posts_total`` is their sum) that carried each order_id, whatever the answer
        (the witness for "never sent twice"); ``orders[].post_answers`` lists those
        answers (status codes, ``"drop"``, ``"timeout"``).
        """
        with self._lock:
            orders = list(self.book.orders.values())
            posts = {key: list(value) for key, value in self.book.posts.items()}
            data: dict[str, Any] = {
                "posts_total": sum(self._requests[label] for label in SEND_LABELS),
                "post_counts": {key: len(value) for key, value in posts.items()},
                "logins": self.accounts.logins,
                "tokens": self.accounts.tokens_issued,
                "requests": dict(self._requests),
                "credits": dict(self.book.credits),
                "noncanonical_headers": sorted(self.accounts.noncanonical),
                "clock_offset": self._offset,
            }
            inbound = [m.inspect(self.tz) for m in self.inbox.messages]
            data["blacklist"] = self.blacklist.inspect(self.tz)
            data["callbacks"] = list(self._callbacks)
        now, tz = self.now(), self.tz
        data["orders"] = [o.inspect(now, tz, posts.get(o.order_id, [])) for o in orders]
        data["inbound"] = inbound
        data["pins"] = self.pins.inspect()
        return data

    def record_callback(self, record: dict[str, Any]) -> None:
        """Keep one delivery callback's fields and outcome for ``/_sandbox/orders``."""
        with self._lock:
            self._callbacks.append(record)

    def add_to_blacklist(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /_sandbox/blacklist``: a number blacklisted in the web panel or by the
        Stop SMS service; ``ValueError`` when invalid."""
        with self._lock:
            return self.blacklist.control(data, self.now())

    def set_alias(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /_sandbox/alias``: register an alias or change its state."""
        with self._lock:
            return self.alias_book.control(data)

    def receive(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Store a received SMS (``POST /_sandbox/inbound``); ``ValueError`` when invalid.

        See :meth:`~django_smsrest.sandbox.inbound.Inbox.receive`; returns its record.
        """
        with self._lock:
            return self.inbox.receive(data, self.now()).inspect(self.tz)

    def order(self, order_id: str) -> dict[str, Any] | None:
        """The inspection record of one order (``None`` if never accepted)."""
        with self._lock:
            found = self.book.orders.get(order_id)
            posts = list(self.book.posts.get(order_id, ()))
        return found.inspect(self.now(), self.tz, posts) if found else None

    def post_count(self, order_id: str) -> int:
        """How many ``POST sms`` carried ``order_id`` (any answer)."""
        with self._lock:
            return len(self.book.posts.get(order_id, ()))

    def draw_latency(self) -> float:
        """Seconds of added latency for the next REST call (0 when the fault is off)."""
        with self._lock:
            return self.faults.latency()

    # --- the gate every REST call passes ---------------------------------------------------

    def count(self, label: str) -> None:
        """Count one call of the endpoint ``label`` (``GET /_sandbox/orders`` shows them)."""
        with self._lock:
            self._requests[label] += 1

    def precheck(self, label: str, headers: Any, *, scoped: bool) -> Reply | None:
        """Rate limit, authentication and the pre-acceptance faults: the refusal, or
        ``None`` to go on. ``scoped``: the faults apply to this endpoint."""
        with self._lock:
            return self._precheck(label, headers, scoped=scoped)

    def _precheck(self, label: str, headers: Any, *, scoped: bool) -> Reply | None:
        # (lock held)
        if scoped and self.faults.take("rate_limit"):
            retry = str(self.config.retry_after)
            return ko(
                429,
                f"Too many requests; retry after {retry} s.",
                "RATE_LIMITED",
                headers=(("Retry-After", retry),),
            )
        if label not in ("GET login", "GET token", "GET checksession"):
            denied = self.accounts.authenticate(headers)
            if denied is not None:
                return denied
            if scoped and self.faults.take("unauthorized"):
                return self.accounts.unauthorized()
        if scoped and self.faults.take("error"):
            return ko(
                500, "Internal server error (sandbox fault: nothing was done).", "SANDBOX_FAULT"
            )
        return None


__all__ = ["TEST_NUMBERS", "SandboxState"]
