"""The sandbox's options: one dataclass and one coercion function.

Every option can be given three ways, and all three go through :func:`coerce_option`, so
they accept the same values and fail with the same readable message:

* keyword arguments: ``SandboxState(SandboxConfig.from_options(step=0.05))`` or
  ``run_sandbox(step=0.05)``;
* the command line: ``python -m django_smsrest.sandbox --step 0.05`` (strings);
* at run time: ``POST /_sandbox/config`` with a JSON object (``{"step": 0.05}``).

Options split into *behaviour* (credits, limits, policies, clock) and *faults* (latency,
injected errors). ``POST /_sandbox/reset`` puts every fault back to its default (off);
behaviour options keep their current values.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
import urllib.parse
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The platform's internal message-type ids; credits are kept per internal id.
INTERNAL_TYPES: tuple[str, ...] = ("N", "L", "LL")

#: Brand codes that are aliases of an internal id (Skebby sells N/L/LL as GP/TI/SI).
TYPE_ALIASES: Mapping[str, str] = {"GP": "N", "TI": "L", "SI": "LL"}

DEFAULT_CREDITS = 100_000

#: A recipient number as the gateway documents it: '+' or '00', then 6 to 15 digits.
RECIPIENT_RE = re.compile(r"(?:\+|00)[1-9][0-9]{5,14}")

#: Upper bounds of the fault delays: a test that asks for more has a typo, and a sandbox
#: that waits longer looks dead (an hour of latency drops every call).
MAX_LATENCY_MS = 60_000.0
MAX_TIMEOUT_SECONDS = 600.0


def check_callback_url(name: str, value: Any) -> str | None:
    """The URL if it is ``http(s)`` to a loopback host; ``None`` for empty; else ValueError."""
    if value in (None, "", "none"):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a URL string")
    parts = urllib.parse.urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"{name} must be an http:// or https:// URL, not {value!r}")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"{name} must point at this machine (127.0.0.1, ::1 or localhost), not {host!r}"
        )
    return value


def internal_type(code: str) -> str:
    """The internal id (``N``/``L``/``LL``) behind a brand code; ``code`` itself otherwise."""
    return TYPE_ALIASES.get(code, code)


@dataclass
class SandboxConfig:
    """All options of one sandbox. ``password`` is kept out of ``repr``.

    Behaviour:
      ``username``/``password``  the one account (default ``sandbox``/``sandbox``).
      ``seed``                   seeds the random generator behind every ``*_rate`` fault and
                                 the ``latency`` range (``None``: not reproducible).
      ``session_idle``           seconds a session key survives without being used (300).
      ``step``                   seconds between two delivery states (1.0); an order keeps
                                 the step in force when it was accepted.
      ``credits``                credits per internal type ``{"N": .., "L": .., "LL": ..}``;
                                 give an int for all types, or a dict / ``"N=5,LL=0"``.
      ``money``                  the money balance reported by ``status?getMoney=true``.
      ``max_recipients``         recipients allowed in one POST sms (10000).
      ``duplicate_order_id``     ``"reject"`` (400) or ``"accept"`` (201 with the original
                                 answer, nothing sent again).
      ``non_gsm``                ``"reject"`` (400) or ``"accept"`` (charged as GSM, the way a
                                 gateway substituting ``?`` would) for non-GSM text sent
                                 with ``encoding: "gsm"``.
      ``timezone``               IANA zone for naive dates in and for dates out (Europe/Rome).
      ``strict_schedule``        ``False`` (default): a scheduled time in the past or present
                                 is sent at once and the order notes it (the documentation
                                 does not say the gateway refuses it); ``True``: a time more
                                 than ``schedule_grace`` seconds in the past is a 400.
      ``schedule_grace``         with ``strict_schedule``, seconds a scheduled time may lie in
                                 the past and still be sent at once instead of a 400 (60).
      ``brand``                  which codes ``status?typeAliases=true`` lists: ``"skebby"``
                                 GP/TI/SI, another brand (or ``None``, meaning smSend)
                                 N/L/LL. ``POST sms`` accepts both code sets regardless.
      ``groups``                 contact groups for ``POST smstogroups``: ``{name: [numbers]}``,
                                 or ``"clienti=+39...,+39..."`` (CLI ``--group``, repeatable).
                                 Setting it replaces every group.
      ``callback_url``           POST each recipient's state change there (form fields
                                 order_id, recipient, status, delivery_date); loopback URLs
                                 only. See :mod:`django_smsrest.sandbox.callbacks`.

    Faults (all off by default; ``*_rate`` is a share 0..1 of the calls, ``*_next`` the
    next N calls, counted down):
      ``latency``                added delay in ms, ``(min, max)``; ``50`` or ``"20-80"``.
      ``error_*``                500 before the order is accepted (nothing stored).
      ``error_after_*``          500 after the order was accepted and stored.
      ``timeout_after_*``        order stored, then no answer for ``timeout_seconds`` and the
                                 connection is closed (the client sees a read timeout).
      ``drop_after_*``           order stored, then the connection is closed unanswered.
      ``rate_limit_*``           429 with ``Retry-After: retry_after``.
      ``unauthorized_*``         401 as if the session key had expired.
      ``fault_scope``            ``"send"``: 429 / 500-before / 401 faults hit only POST sms;
                                 ``"all"``: every REST call (login and token get 429 / 500,
                                 never the 401 fault).
    """

    username: str = "sandbox"
    password: str = field(default="sandbox", repr=False)
    seed: int | None = None
    session_idle: float = 300.0
    step: float = 1.0
    credits: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(INTERNAL_TYPES, DEFAULT_CREDITS)
    )
    money: float = 1000.0
    max_recipients: int = 10_000
    duplicate_order_id: str = "reject"
    non_gsm: str = "reject"
    timezone: str = "Europe/Rome"
    schedule_grace: float = 60.0
    strict_schedule: bool = False
    brand: str | None = None
    groups: dict[str, list[str]] = field(default_factory=dict)
    callback_url: str | None = None
    # --- faults -------------------------------------------------------------------------
    latency: tuple[float, float] = (0.0, 0.0)
    error_rate: float = 0.0
    error_next: int = 0
    error_after_rate: float = 0.0
    error_after_next: int = 0
    timeout_after_rate: float = 0.0
    timeout_after_next: int = 0
    timeout_seconds: float = 30.0
    drop_after_rate: float = 0.0
    drop_after_next: int = 0
    rate_limit_rate: float = 0.0
    rate_limit_next: int = 0
    retry_after: int = 1
    unauthorized_rate: float = 0.0
    unauthorized_next: int = 0
    fault_scope: str = "send"

    @classmethod
    def from_options(cls, **options: Any) -> SandboxConfig:
        """Build a config from keyword options, each checked by :func:`coerce_option`."""
        config = cls()
        config.update(options)
        return config

    def update(self, options: Mapping[str, Any]) -> None:
        """Set several options at once; all are checked before any is applied."""
        values = {name: coerce_option(name, value, self) for name, value in options.items()}
        after = sum(
            values.get(name, getattr(self, name))
            for name in ("error_after_rate", "timeout_after_rate", "drop_after_rate")
        )
        if after > 1.0:
            raise ValueError(
                "error_after_rate + timeout_after_rate + drop_after_rate must not exceed 1 "
                f"(it would be {after:g}): they share one draw per accepted order"
            )
        for name, value in values.items():
            setattr(self, name, value)

    def reset_faults(self) -> None:
        """Switch every fault off (behaviour options are kept)."""
        defaults = SandboxConfig()
        for name in FAULT_OPTIONS:
            setattr(self, name, getattr(defaults, name))

    def public(self) -> dict[str, Any]:
        """Every option except the password, JSON-ready (for ``GET /_sandbox/config``)."""
        data = dataclasses.asdict(self)
        del data["password"]
        data["latency"] = list(self.latency)
        return data


# --- coercion -----------------------------------------------------------------------------


def _number(
    name: str,
    value: Any,
    *,
    minimum: float = 0.0,
    strict: bool = False,
    maximum: float | None = None,
) -> float:
    """A finite float in range: NaN and infinities are refused (they would stall or break
    every comparison the sandbox makes with them)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    if number < minimum or (strict and number == minimum):
        relation = "greater than" if strict else "at least"
        raise ValueError(f"{name} must be {relation} {minimum:g}, not {value!r}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be at most {maximum:g}, not {value!r}")
    return number


def _integer(name: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value!r}")
    return number


def _rate(name: str, value: Any) -> float:
    number = _number(name, value)
    if number > 1.0:
        raise ValueError(f"{name} is a share of calls between 0 and 1, not {value!r}")
    return number


def _choice(*choices: str) -> Callable[[str, Any], str]:
    def parse(name: str, value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return str(value)

    return parse


def _latency(name: str, value: Any) -> tuple[float, float]:
    top = MAX_LATENCY_MS
    if isinstance(value, str) and "-" in value.strip().lstrip("-"):
        low, _, high = value.partition("-")
        pair = (_number(name, low, maximum=top), _number(name, high, maximum=top))
    elif isinstance(value, list | tuple):
        if len(value) != 2:
            raise ValueError(f"{name} must be [min, max] milliseconds, not {value!r}")
        pair = (_number(name, value[0], maximum=top), _number(name, value[1], maximum=top))
    else:
        fixed = _number(name, value, maximum=top)
        pair = (fixed, fixed)
    if pair[0] > pair[1]:
        raise ValueError(f"{name}: the minimum {pair[0]:g} is above the maximum {pair[1]:g}")
    return pair


def _credits(name: str, value: Any, current: SandboxConfig | None) -> dict[str, int]:
    balances = dict(current.credits) if current else SandboxConfig().credits
    if isinstance(value, int | str) and not isinstance(value, bool) and "=" not in str(value):
        return dict.fromkeys(INTERNAL_TYPES, _integer(name, value))
    if isinstance(value, str):
        pairs: list[tuple[str, Any]] = []
        for item in value.split(","):
            code, sep, amount = item.partition("=")
            if not sep:
                raise ValueError(f"{name} must look like 'N=100,LL=5', not {value!r}")
            pairs.append((code.strip(), amount.strip()))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        raise ValueError(f"{name} must be a number or a mapping of type to credits")
    for code, amount in pairs:
        internal = internal_type(str(code))
        if internal not in INTERNAL_TYPES:
            known = ", ".join([*INTERNAL_TYPES, *TYPE_ALIASES])
            raise ValueError(f"{name}: unknown message type {code!r} (known: {known})")
        balances[internal] = _integer(f"{name}[{code}]", amount)
    return balances


def _timezone(name: str, value: Any) -> str:
    try:
        zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name} must be an IANA time zone such as Europe/Rome") from None
    return str(value)


def _brand(name: str, value: Any) -> str | None:
    if value in (None, "", "none", "both"):
        return None
    from django_smsrest.conf import BRANDS

    if str(value).lower() not in BRANDS:
        raise ValueError(f"{name} must be one of {', '.join(BRANDS)} (or empty for both)")
    return str(value).lower()


def _seed(name: str, value: Any) -> int | None:
    if value in (None, "", "none"):
        return None
    return _integer(name, value, minimum=-(2**63))


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "true",
        "1",
        "yes",
        "on",
        "false",
        "0",
        "no",
        "off",
    ):
        return value.lower() in ("true", "1", "yes", "on")
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _groups(name: str, value: Any) -> dict[str, list[str]]:
    """``{group: [numbers]}`` from a mapping, a ``NAME=N1,N2`` string or a list of them."""
    if isinstance(value, str):
        value = [value]
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list | tuple):
        for item in value:
            group, sep, listed = str(item).partition("=")
            if not sep:
                raise ValueError(f"{name} must look like 'clienti=+393471234567,+39...'")
            pairs.append((group.strip(), listed))
    else:
        raise ValueError(f"{name} must map group names to lists of numbers")
    groups: dict[str, list[str]] = {}
    for group, given in pairs:
        numbers = given
        if not isinstance(group, str) or not group:
            raise ValueError(f"{name}: a group name must be a non-empty string")
        if isinstance(numbers, str):
            numbers = [n.strip() for n in numbers.split(",") if n.strip()]
        if not isinstance(numbers, list | tuple):
            raise ValueError(f"{name}[{group}] must be a list of numbers")
        for number in numbers:
            if not isinstance(number, str) or not RECIPIENT_RE.fullmatch(number):
                raise ValueError(
                    f"{name}[{group}]: {number!r} is not an international number such as "
                    "+393471234567"
                )
        groups.setdefault(group, []).extend(numbers)
    return groups


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "username": _text,
    "password": _text,
    "seed": _seed,
    "session_idle": lambda n, v: _number(n, v, strict=True),
    "step": lambda n, v: _number(n, v, strict=True),
    "money": _number,
    "max_recipients": lambda n, v: _integer(n, v, minimum=1),
    "duplicate_order_id": _choice("reject", "accept"),
    "non_gsm": _choice("reject", "accept"),
    "timezone": _timezone,
    "schedule_grace": _number,
    "strict_schedule": _bool,
    "brand": _brand,
    "groups": _groups,
    "callback_url": check_callback_url,
    "latency": _latency,
    "timeout_seconds": lambda n, v: _number(n, v, maximum=MAX_TIMEOUT_SECONDS),
    "retry_after": _integer,
    "fault_scope": _choice("send", "all"),
}
for _name in ("error", "error_after", "timeout_after", "drop_after", "rate_limit", "unauthorized"):
    _PARSERS[f"{_name}_rate"] = _rate
    _PARSERS[f"{_name}_next"] = _integer

#: Options that ``POST /_sandbox/reset`` switches back off.
FAULT_OPTIONS: tuple[str, ...] = (
    "latency",
    *(
        f"{n}_{k}"
        for n in ("error", "error_after", "timeout_after", "drop_after")
        for k in ("rate", "next")
    ),
    "timeout_seconds",
    "rate_limit_rate",
    "rate_limit_next",
    "retry_after",
    "unauthorized_rate",
    "unauthorized_next",
    "fault_scope",
)

#: Options that cannot be changed once the sandbox runs (the account is fixed at start).
STARTUP_ONLY: frozenset[str] = frozenset({"username", "password"})

OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SandboxConfig))

#: Options that are switches: on the command line ``--strict-schedule`` alone means true.
BOOLEAN_OPTIONS: frozenset[str] = frozenset({"strict_schedule"})


def coerce_option(name: str, value: Any, current: SandboxConfig | None = None) -> Any:
    """Check and convert one option value (from kwargs, a CLI string or JSON).

    Raises :class:`ValueError` with a message naming the option and the accepted values.
    """
    if name == "credits":
        return _credits(name, value, current)
    parser = _PARSERS.get(name)
    if parser is None:
        raise ValueError(f"unknown sandbox option {name!r}; known: {', '.join(OPTION_NAMES)}")
    return parser(name, value)
