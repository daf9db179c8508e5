"""The sandbox gateway's state and REST logic, independent of any HTTP server.

:class:`SandboxState` answers one REST call at a time (:meth:`SandboxState.handle_api`) with
a :class:`Reply`; the HTTP layer (:mod:`django_smsrest.sandbox.server`) only moves bytes.
All shared data sits behind one lock and every critical section is a few dict operations,
so a single process serves well over 1,000 ``POST sms`` per second.

Delivery simulation: each recipient walks through states as the sandbox clock passes
``step`` seconds per state, counted from acceptance (or from the scheduled time):
``WAITING -> SENT -> WAIT4DLVR -> DLVRD`` for types with a delivery report (N, GP) and
``WAITING -> SENT`` for the others; ``SCHEDULED`` before the scheduled time. Numbers ending
in the suffixes of :data:`TEST_NUMBERS` follow a scripted path instead (0001 UNKNRCPT,
0002 BLACKLISTED, 0003 ERROR, 0004 KO, 0005 TIMEOUT, 0006 TOOM4NUM, 0008 never gets a
delivery report). The clock is wall time plus an offset that :meth:`SandboxState.advance`
moves forward, so a test can jump past a scheduled time without sleeping.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import random
import secrets
import threading
import time
import uuid
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django_smsrest.conf import BRANDS
from django_smsrest.sandbox.config import (
    INTERNAL_TYPES,
    STARTUP_ONLY,
    SandboxConfig,
    internal_type,
)
from django_smsrest.sandbox.validation import (
    MESSAGE_TYPES,
    ApiError,
    SendRequest,
    parse_json_object,
    parse_timezone,
    validate_order_id,
    validate_send,
)

_WITH_REPORT = ("WAITING", "SENT", "WAIT4DLVR", "DLVRD")
_WITHOUT_REPORT = ("WAITING", "SENT")


@dataclass(frozen=True)
class ScriptedNumber:
    """The state path of a recipient whose number ends with a test suffix.

    ``with_report`` applies to types with a delivery report (N, GP), ``without_report`` to
    the others. ``final`` is False for a path that stops in a non-final state.
    """

    state: str
    description: str
    with_report: tuple[str, ...]
    without_report: tuple[str, ...]
    final: bool = True


def _fails(state: str, description: str) -> ScriptedNumber:
    return ScriptedNumber(state, description, ("WAITING", state), ("WAITING", state))


#: Numbers ending with these digits end in a failure (or odd) state; any other number
#: is delivered. E.g. ``+393470000001`` always ends UNKNRCPT.
TEST_NUMBERS: Mapping[str, ScriptedNumber] = {
    "0001": _fails("UNKNRCPT", "unknown recipient: fails right after WAITING"),
    "0002": _fails("BLACKLISTED", "number in the blacklist (STOP): fails after WAITING"),
    "0003": _fails("ERROR", "generic delivery error after WAITING"),
    "0004": _fails("KO", "rejected by the operator's SMSC after WAITING"),
    "0005": ScriptedNumber(
        "TIMEOUT",
        "no delivery report within the operator's window: ends TIMEOUT (types with a "
        "report); SENT for the others",
        ("WAITING", "SENT", "WAIT4DLVR", "TIMEOUT"),
        _WITHOUT_REPORT,
    ),
    "0006": _fails("TOOM4NUM", "too many SMS to this number: fails after WAITING"),
    "0008": ScriptedNumber(
        "WAIT4DLVR",
        "the delivery report never arrives: stays WAIT4DLVR forever (types with a report); "
        "SENT for the others",
        ("WAITING", "SENT", "WAIT4DLVR"),
        _WITHOUT_REPORT,
        final=False,
    ),
}


def progression(destination: str, delivery_report: bool) -> tuple[tuple[str, ...], bool]:
    """(states in order, whether the last one is final) for one recipient."""
    scripted = TEST_NUMBERS.get(destination[-4:])
    if scripted is not None:
        if delivery_report:
            return scripted.with_report, scripted.final
        return scripted.without_report, True
    return (_WITH_REPORT if delivery_report else _WITHOUT_REPORT), True


@dataclass
class Order:
    """One accepted ``POST sms``. ``start_at`` is when the first state (WAITING) begins."""

    order_id: str
    internal_order_id: str
    request: SendRequest
    created_at: float
    start_at: float
    step: float
    response: dict[str, Any]
    cancelled: bool = False
    fault: str | None = None

    def states(self, now: float, tz: zoneinfo.ZoneInfo) -> list[dict[str, str]]:
        """Per-recipient ``{destination, status, delivery_date}`` at sandbox time ``now``."""
        elapsed = now - self.start_at
        result = []
        for destination in self.request.recipients:
            if elapsed < 0:
                result.append(
                    {"destination": destination, "status": "SCHEDULED", "delivery_date": ""}
                )
                continue
            states, final = progression(destination, self.request.delivery_report)
            index = min(int(elapsed // self.step), len(states) - 1)
            done = final and index == len(states) - 1
            date = _format(self.start_at + index * self.step, tz) if done else ""
            result.append(
                {"destination": destination, "status": states[index], "delivery_date": date}
            )
        return result

    def inspect(self, now: float, tz: zoneinfo.ZoneInfo, posts: list[int | str]) -> dict[str, Any]:
        request = self.request
        return {
            "order_id": self.order_id,
            "internal_order_id": self.internal_order_id,
            "message": request.message,
            "message_type": request.message_type,
            "sender": request.sender,
            "recipients": list(request.recipients),
            "dropped_recipients": list(request.dropped_recipients),
            "encoding": request.encoding,
            "segments": request.segments,
            "credits": request.cost,
            "campaign_name": request.campaign_name,
            "created_at": _iso(self.created_at, tz),
            "scheduled_delivery_time": (
                request.scheduled_at.astimezone(tz).isoformat() if request.scheduled_at else None
            ),
            "cancelled": self.cancelled,
            "fault": self.fault,
            "states": self.states(now, tz),
            "posts": len(posts),
            "post_answers": list(posts),
        }


def _format(timestamp: float, tz: zoneinfo.ZoneInfo) -> str:
    return datetime.fromtimestamp(timestamp, tz).strftime("%Y%m%d%H%M%S")


def _iso(timestamp: float, tz: zoneinfo.ZoneInfo) -> str:
    return datetime.fromtimestamp(timestamp, tz).isoformat(timespec="milliseconds")


@dataclass
class Reply:
    """What the HTTP layer must do: answer, drop the connection, or hang then drop.

    ``outcome`` is what ``/_sandbox/orders`` records for the POST (the status or
    ``"drop"``/``"timeout"``); ``order_id`` is the id the POST carried or was given.
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    action: str = "respond"
    hang_seconds: float = 0.0
    order_id: str | None = None

    @property
    def outcome(self) -> int | str:
        return {"drop": "drop", "hang": "timeout"}.get(self.action, self.status)


def json_reply(status: int, data: Any, **extra: Any) -> Reply:
    return Reply(status, json.dumps(data).encode(), **extra)


def text_reply(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), "text/plain; charset=utf-8")


def error_reply(error: ApiError) -> Reply:
    return json_reply(error.status, error.body())


def _ko(status: int, message: str, code: str, **extra: Any) -> Reply:
    return json_reply(status, {"result": "KO", "error_message": message, "code": code}, **extra)


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

_ROUTES = {
    "login": ("GET",),
    "token": ("GET",),
    "checksession": ("GET",),
    "sms": ("POST",),
    "status": ("GET",),
    "smshistory": ("GET",),
}


def resolve_route(method: str, route: str) -> tuple[str | None, str | None, bool]:
    """(endpoint label, path argument, method allowed) for a path below ``/API/v1.0/REST/``.

    The label is the form used in request counts, e.g. ``"GET sms/{order_id}"``; ``None``
    for an unknown path.
    """
    route = route.strip("/")
    if route.startswith("sms/") and route.count("/") == 1:
        return f"{method} sms/{{order_id}}", route[4:], method in ("GET", "DELETE")
    methods = _ROUTES.get(route)
    if methods is None:
        return None, None, False
    return f"{method} {route}", None, method in methods


class SandboxState:
    """Accounts, orders, credits, faults and counters of one sandbox gateway.

    Thread-safe: the HTTP server calls :meth:`handle_api` from one thread per connection.
    Tests in the same process may call :meth:`configure`, :meth:`snapshot`,
    :meth:`post_count`, :meth:`advance` and :meth:`reset` directly.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._offset = 0.0
        self.user_key = secrets.token_hex(8)
        self._sessions: dict[str, float] = {}
        self._tokens: set[str] = set()
        self._orders: dict[str, Order] = {}
        self._internal_ids = itertools.count(1)
        self._credits = dict(self.config.credits)
        self._posts: defaultdict[str, list[int | str]] = defaultdict(list)
        self._requests: Counter[str] = Counter()
        self._logins = 0
        self._tokens_issued = 0
        self._noncanonical: set[str] = set()

    # --- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        """Sandbox time (epoch seconds): wall time plus what :meth:`advance` added."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward: deliveries progress, sessions idle, schedules fire."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
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
                self._credits = dict(self.config.credits)
            if "seed" in options:
                self._rng = random.Random(self.config.seed)
            if expire:
                self._sessions.clear()
            if revoke:
                self._tokens.clear()
            return self.config.public()

    def reset(self) -> None:
        """Forget orders and counters, refill credits, switch faults off, reset the clock.

        Sessions and tokens stay valid, so a client that is logged in stays logged in.
        """
        with self._lock:
            self.config.reset_faults()
            self._rng = random.Random(self.config.seed)
            self._offset = 0.0
            self._orders.clear()
            self._posts.clear()
            self._credits = dict(self.config.credits)
            self._requests.clear()
            self._logins = self._tokens_issued = 0
            self._noncanonical.clear()

    # --- inspection --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything ``GET /_sandbox/orders`` shows: orders (oldest first) and counters.

        ``post_counts`` counts every ``POST sms`` that carried each order_id, whatever the
        answer (the witness for "never sent twice"); ``orders[].post_answers`` lists those
        answers (status codes, ``"drop"``, ``"timeout"``).
        """
        with self._lock:
            orders = list(self._orders.values())
            posts = {key: list(value) for key, value in self._posts.items()}
            data: dict[str, Any] = {
                "posts_total": self._requests["POST sms"],
                "post_counts": {key: len(value) for key, value in posts.items()},
                "logins": self._logins,
                "tokens": self._tokens_issued,
                "requests": dict(self._requests),
                "credits": dict(self._credits),
                "noncanonical_headers": sorted(self._noncanonical),
                "clock_offset": self._offset,
            }
        now, tz = self.now(), self.tz
        data["orders"] = [o.inspect(now, tz, posts.get(o.order_id, [])) for o in orders]
        return data

    def order(self, order_id: str) -> dict[str, Any] | None:
        """The inspection record of one order (``None`` if never accepted)."""
        with self._lock:
            found = self._orders.get(order_id)
            posts = list(self._posts.get(order_id, ()))
        return found.inspect(self.now(), self.tz, posts) if found else None

    def post_count(self, order_id: str) -> int:
        """How many ``POST sms`` carried ``order_id`` (any answer)."""
        with self._lock:
            return len(self._posts.get(order_id, ()))

    def draw_latency(self) -> float:
        """Seconds of added latency for the next REST call (0 when the fault is off)."""
        low, high = self.config.latency
        if high <= 0:
            return 0.0
        if low == high:
            return low / 1000.0
        with self._lock:
            return self._rng.uniform(low, high) / 1000.0

    # --- REST API ----------------------------------------------------------------------------

    def handle_api(
        self, method: str, route: str, query: Mapping[str, str], headers: Any, body: bytes
    ) -> Reply:
        """Answer one call to ``/API/v1.0/REST/<route>``.

        ``headers`` is an ``email.message.Message``-like object (case-insensitive ``get``,
        ``keys()`` keeping the client's spelling).
        """
        label, argument, allowed = resolve_route(method, route)
        if label is None:
            return _ko(404, f"There is no endpoint {route!r} in this API.", "NOT_FOUND")
        if not allowed:
            return _ko(405, f"{method} is not allowed on {route!r}.", "METHOD_NOT_ALLOWED")
        if label == "POST sms":
            return self._post_sms(headers, body)
        with self._lock:
            self._requests[label] += 1
            early = self._precheck(label, headers, scoped=self.config.fault_scope == "all")
        if early is not None:
            return early
        if label in ("GET login", "GET token"):
            return self._login(label == "GET token", query, headers)
        if label == "GET checksession":
            return self._checksession(headers)
        if label == "GET sms/{order_id}":
            return self._get_order(argument or "")
        if label == "DELETE sms/{order_id}":
            return self._delete_order(argument or "")
        if label == "GET status":
            return self._status(query)
        return self._history(query)

    def _take(self, fault: str) -> bool:
        """Whether ``fault`` strikes this call: its ``_next`` counter first, then its rate.

        Called with the lock held; the random draw happens only when the rate is non-zero,
        so a seeded run stays reproducible whatever other faults are configured.
        """
        config = self.config
        remaining = getattr(config, f"{fault}_next")
        if remaining > 0:
            setattr(config, f"{fault}_next", remaining - 1)
            return True
        rate = getattr(config, f"{fault}_rate")
        return rate > 0 and self._rng.random() < rate

    def _precheck(self, label: str, headers: Any, *, scoped: bool) -> Reply | None:
        """Rate limit, authentication and the pre-acceptance faults (lock held)."""
        if scoped and self._take("rate_limit"):
            retry = str(self.config.retry_after)
            return _ko(
                429,
                f"Too many requests; retry after {retry} s.",
                "RATE_LIMITED",
                headers=(("Retry-After", retry),),
            )
        if label not in ("GET login", "GET token", "GET checksession"):
            denied = self._authenticate(headers)
            if denied is not None:
                return denied
            if scoped and self._take("unauthorized"):
                return self._unauthorized()
        if scoped and self._take("error"):
            return _ko(
                500, "Internal server error (sandbox fault: nothing was done).", "SANDBOX_FAULT"
            )
        return None

    def _unauthorized(self) -> Reply:
        return _ko(401, _UNAUTHORIZED.format(idle=int(self.config.session_idle)), "UNAUTHORIZED")

    def _authenticate(self, headers: Any) -> Reply | None:
        """Check user_key + Session_key/Access_token and renew the session (lock held)."""
        for name in headers:
            canonical = _CANONICAL_HEADERS.get(name.lower())
            if canonical is not None and name != canonical:
                self._noncanonical.add(name)
        if headers.get("user_key") != self.user_key:
            return self._unauthorized()
        token = headers.get("Access_token")
        if token:
            return None if token in self._tokens else self._unauthorized()
        session = headers.get("Session_key")
        last_used = self._sessions.get(session or "")
        now = self.now()
        if last_used is None or now - last_used > self.config.session_idle:
            self._sessions.pop(session or "", None)
            return self._unauthorized()
        self._sessions[session or ""] = now
        return None

    def _credentials(self, query: Mapping[str, str], headers: Any) -> tuple[str, str] | None:
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

    def _login(self, token: bool, query: Mapping[str, str], headers: Any) -> Reply:
        credentials = self._credentials(query, headers)
        if credentials is None:
            return _ko(
                400,
                "username and password are required, in the query string or as HTTP Basic "
                "authentication.",
                "MISSING_FIELD",
            )
        user, password = credentials
        good = secrets.compare_digest(user.encode(), self.config.username.encode())
        good &= secrets.compare_digest(password.encode(), self.config.password.encode())
        if not good:
            return text_reply(404, "Wrong username or password.")
        key = secrets.token_hex(16)
        with self._lock:
            if token:
                self._tokens.add(key)
                self._tokens_issued += 1
            else:
                if len(self._sessions) > 10_000:
                    self._prune_sessions()
                self._sessions[key] = self.now()
                self._logins += 1
        return text_reply(200, f"{self.user_key};{key}")

    def _prune_sessions(self) -> None:
        limit = self.now() - self.config.session_idle
        for key in [k for k, used in self._sessions.items() if used < limit]:
            del self._sessions[key]

    def _checksession(self, headers: Any) -> Reply:
        """``"true"``/``"false"``: is the session valid? Does not renew it."""
        with self._lock:
            used = self._sessions.get(headers.get("Session_key") or "")
            valid = (
                headers.get("user_key") == self.user_key
                and used is not None
                and self.now() - used <= self.config.session_idle
            )
        return text_reply(200, "true" if valid else "false")

    # --- POST sms ----------------------------------------------------------------------------

    def _post_sms(self, headers: Any, raw: bytes) -> Reply:
        # Parse first (outside the lock) so that every POST can be counted against the
        # order_id it carried, whatever the answer; a malformed body is reported only after
        # the rate limit and the authentication, as a real server would.
        body: dict[str, Any] = {}
        order_id: str | None = None
        invalid: Reply | None = None
        try:
            body = parse_json_object(raw)
            order_id = validate_order_id(body)
        except ApiError as error:
            invalid = error_reply(error)
        with self._lock:
            self._requests["POST sms"] += 1
            early = self._precheck("POST sms", headers, scoped=True)
        reply = early or invalid or self._accept(body, order_id)
        reply.order_id = reply.order_id or order_id
        if reply.order_id:
            with self._lock:
                self._posts[reply.order_id].append(reply.outcome)
        return reply

    def _duplicate(self, order_id: str | None) -> Reply | None:
        """The answer to a repeated order_id, per ``duplicate_order_id`` (lock held)."""
        original = self._orders.get(order_id) if order_id else None
        if original is None:
            return None
        if self.config.duplicate_order_id == "accept":
            return json_reply(201, original.response)
        return _ko(
            400,
            f"order_id {order_id!r} was already used for an accepted order; nothing was sent "
            "again. Use GET sms/{order_id} to see its state.",
            "DUPLICATE_ORDER_ID",
        )

    def _accept(self, body: dict[str, Any], order_id: str | None) -> Reply:
        with self._lock:
            duplicate = self._duplicate(order_id)
        if duplicate is not None:
            return duplicate
        now = self.now()
        try:
            request = validate_send(body, self.config, datetime.fromtimestamp(now, UTC), order_id)
        except ApiError as error:
            return error_reply(error)
        with self._lock:
            duplicate = self._duplicate(order_id)  # a concurrent POST may have won meanwhile
            if duplicate is not None:
                return duplicate
            balance = self._credits.get(request.internal_type, 0)
            if request.cost > balance:
                return _ko(
                    400,
                    f"Not enough credit for message type {request.message_type}: this order "
                    f"needs {request.cost} credits ({request.segments} part(s) x "
                    f"{len(request.recipients)} recipient(s)), the balance is {balance}.",
                    "NOT_ENOUGH_CREDIT",
                )
            self._credits[request.internal_type] = balance - request.cost
            order_id = order_id or uuid.uuid4().hex
            response: dict[str, Any] = {
                "result": "OK",
                "order_id": order_id,
                "total_sent": request.cost if request.return_credits else len(request.recipients),
                "internal_order_id": f"SBX{next(self._internal_ids):09d}",
            }
            if request.return_remaining:
                response["remaining_credits"] = balance - request.cost
            scheduled = request.scheduled_at.timestamp() if request.scheduled_at else None
            order = Order(
                order_id=order_id,
                internal_order_id=response["internal_order_id"],
                request=request,
                created_at=now,
                start_at=scheduled or now,
                step=self.config.step,
                response=response,
            )
            self._orders[order_id] = order
            order.fault = self._after_fault()
        if order.fault == "error_after":
            return _ko(
                500,
                "Internal server error (sandbox fault: the order WAS accepted).",
                "SANDBOX_FAULT",
                order_id=order_id,
            )
        if order.fault == "timeout_after":
            return Reply(
                0, action="hang", hang_seconds=self.config.timeout_seconds, order_id=order_id
            )
        if order.fault == "drop_after":
            return Reply(0, action="drop", order_id=order_id)
        return json_reply(201, response, order_id=order_id)

    def _after_fault(self) -> str | None:
        """Which post-acceptance fault strikes this order, if any (lock held).

        ``_next`` counters first; then one draw shared by the three rates, so their sum is
        the share of accepted orders that get some fault.
        """
        config = self.config
        names = ("error_after", "timeout_after", "drop_after")
        for name in names:
            remaining = getattr(config, f"{name}_next")
            if remaining > 0:
                setattr(config, f"{name}_next", remaining - 1)
                return name
        rates = [getattr(config, f"{name}_rate") for name in names]
        if not any(rates):
            return None
        draw = self._rng.random()
        for name, rate in zip(names, rates, strict=True):
            if draw < rate:
                return name
            draw -= rate
        return None

    # --- other endpoints ---------------------------------------------------------------------

    def _live_order(self, order_id: str) -> Order | None:
        with self._lock:
            order = self._orders.get(order_id)
        return None if order is None or order.cancelled else order

    def _get_order(self, order_id: str) -> Reply:
        order = self._live_order(order_id)
        if order is None:
            return _ko(404, f"No order with order_id {order_id!r}.", "NOT_FOUND")
        states = order.states(self.now(), self.tz)
        return json_reply(
            200, {"result": "OK", "recipient_number": len(states), "recipients": states}
        )

    def _delete_order(self, order_id: str) -> Reply:
        with self._lock:
            order = self._orders.get(order_id)
            if order is None or order.cancelled:
                return _ko(404, f"No order with order_id {order_id!r}.", "NOT_FOUND")
            if self.now() >= order.start_at:
                return _ko(
                    404,
                    f"Order {order_id!r} is not scheduled (any more): only a SCHEDULED order "
                    "can be cancelled.",
                    "NOT_SCHEDULED",
                )
            order.cancelled = True
            kind = order.request.internal_type
            self._credits[kind] = self._credits.get(kind, 0) + order.request.cost
        return json_reply(200, {"result": "OK"})

    def _status(self, query: Mapping[str, str]) -> Reply:
        if query.get("typeAliases", "").lower() == "true":
            brand = self.config.brand
            codes = list(MESSAGE_TYPES if brand is None else BRANDS[brand].message_types)
        else:
            codes = list(INTERNAL_TYPES)
        with self._lock:
            sms = [
                {"type": code, "quantity": self._credits.get(internal_type(code), 0)}
                for code in codes
            ]
        money = self.config.money if query.get("getMoney", "").lower() == "true" else None
        email = {"bandwidth": 0.0, "purchased": None, "billing": "EMAILPERHOUR", "expiry": None}
        return json_reply(200, {"money": money, "sms": sms, "email": email})

    def _history(self, query: Mapping[str, str]) -> Reply:
        try:
            tz = parse_timezone(query.get("timezone"), "timezone", self.config.timezone)
            start = _history_date(query, "from", tz, required=True) or 0.0
            end = _history_date(query, "to", tz, required=False) or self.now()
            page = _positive_int(query, "pageNumber", 1)
            size = _positive_int(query, "pageSize", 10)
        except ApiError as error:
            return error_reply(error)
        with self._lock:
            orders = [
                o
                for o in self._orders.values()
                if not o.cancelled and start <= o.created_at <= end
            ]
        orders.reverse()  # newest first
        items = [
            {
                "order_id": o.order_id,
                "create_time": _format(o.created_at, tz),
                "schedule_time": _format(o.start_at, tz),
                "message_type": o.request.message_type,
                "sender": o.request.sender,
                "num_recipients": len(o.request.recipients),
            }
            for o in orders[(page - 1) * size : page * size]
        ]
        return json_reply(
            200, {"total": len(orders), "pageNumber": page, "pageSize": size, "smshistory": items}
        )


def _history_date(
    query: Mapping[str, str], name: str, tz: zoneinfo.ZoneInfo, *, required: bool
) -> float | None:
    value = query.get(name, "")
    if not value:
        if required:
            raise ApiError(
                f"{name} is required: the start of the period, as yyyyMMddHHmmss "
                "(e.g. 20250131000000).",
                "MISSING_FIELD",
            )
        return None
    try:
        if len(value) != 14 or not value.isdigit():
            raise ValueError(value)
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=tz).timestamp()
    except ValueError:
        raise ApiError(
            f"{name} must be a date written yyyyMMddHHmmss (e.g. 20250131000000), not {value!r}.",
            "INVALID_DATE",
        ) from None


def _positive_int(query: Mapping[str, str], name: str, default: int) -> int:
    value = query.get(name, "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ApiError(
            f"{name} must be a positive whole number, not {value!r}.", "INVALID_PARAMETER"
        )
    return int(value)


__all__ = [
    "TEST_NUMBERS",
    "Order",
    "Reply",
    "SandboxState",
    "ScriptedNumber",
    "progression",
    "resolve_route",
]
