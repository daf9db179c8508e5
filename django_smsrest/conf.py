"""The one place that reads the ``SMSREST`` settings dict, and the brand presets.

Everything in the app asks :func:`get_settings` for configuration, at call time, never at
import time. A missing or wrong value raises :class:`~django_smsrest.exceptions.
SmsRestConfigurationError` whose message names the exact key to add or fix, e.g.::

    SMSREST = {"USERNAME": "...", "PASSWORD": "...", "BRAND": "smsend"}

Brand presets carry what differs between the resellers of the same platform: the base URL
and the message-type codes (smSend/Mobyt use ``N``/``L``/``LL``, Skebby ``GP``/``TI``/``SI``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django_smsrest.exceptions import SmsRestConfigurationError
from django_smsrest.secret import Secret

SETTING_NAME = "SMSREST"


@dataclass(frozen=True)
class MessageType:
    """One message type ("quality") a brand sells.

    ``delivery_report``: the gateway reports handset delivery (WAIT4DLVR -> DLVRD); for the
    other types SENT is the last state. ``custom_sender``: a ``sender`` may be given; for
    the others it must be empty. ``max_segments``: a hard cap for this type (the low-cost
    types are single-part, 160 GSM characters); ``None`` means the global limit applies.
    """

    code: str
    label: str
    delivery_report: bool
    custom_sender: bool
    max_segments: int | None = None


@dataclass(frozen=True)
class Brand:
    """A reseller of the same REST platform: where it lives and what its type codes are."""

    name: str
    label: str
    base_url: str
    message_types: Mapping[str, MessageType]
    default_message_type: str


def _types(*types: MessageType) -> dict[str, MessageType]:
    return {t.code: t for t in types}


_SMSEND_TYPES = _types(
    MessageType("N", "High quality (delivery report)", delivery_report=True, custom_sender=True),
    MessageType("L", "Medium quality", delivery_report=False, custom_sender=True),
    MessageType("LL", "Low cost", delivery_report=False, custom_sender=False, max_segments=1),
)

BRANDS: Mapping[str, Brand] = {
    "smsend": Brand(
        "smsend",
        "smSend",
        "https://app.gateway.smsend.it/API/v1.0/REST/",
        _SMSEND_TYPES,
        "N",
    ),
    "mobyt": Brand("mobyt", "Mobyt", "https://app.mobyt.it/API/v1.0/REST/", _SMSEND_TYPES, "N"),
    "aruba": Brand(
        "aruba", "Aruba", "https://smspanel.aruba.it/API/v1.0/REST/", _SMSEND_TYPES, "N"
    ),
    "skebby": Brand(
        "skebby",
        "Skebby",
        "https://api.skebby.it/API/v1.0/REST/",
        _types(
            MessageType(
                "GP", "Classic+ (delivery report)", delivery_report=True, custom_sender=True
            ),
            MessageType("TI", "Classic", delivery_report=False, custom_sender=True),
            MessageType("SI", "Basic", delivery_report=False, custom_sender=False, max_segments=1),
        ),
        "GP",
    ),
}

AuthMode = Literal["session", "token"]

DEFAULT_BACKEND = "django_smsrest.backends.rest.RestBackend"


@dataclass(frozen=True)
class SmsRestSettings:
    """The resolved configuration. Build it with :func:`get_settings`.

    ``password`` is a :class:`~django_smsrest.secret.Secret` (and excluded from ``repr``):
    a settings object printed in a log or a traceback never shows it; ``.reveal()`` it only
    where the request is built.
    """

    brand: Brand
    base_url: str
    username: str
    password: Secret = field(repr=False)
    auth: AuthMode
    default_message_type: str
    default_sender: str
    timeout: tuple[float, float]
    verify_tls: bool | str
    default_region: str | None
    backend: str
    max_recipients_per_order: int
    max_segments: int
    gateway_timezone: str
    task_backend: str
    task_queue: str
    task_priority: int
    max_attempts: int
    send_max_age_hours: float
    retry_base_seconds: float
    retry_max_seconds: float
    lease_seconds: float
    low_credit_threshold: int | None
    status_poll_max_age_hours: float
    status_poll_base_seconds: float
    cache: str = "default"

    @property
    def message_types(self) -> Mapping[str, MessageType]:
        return self.brand.message_types

    def message_type(self, code: str) -> MessageType:
        """The :class:`MessageType` for ``code``; raise ``KeyError`` for an unknown code."""
        return self.brand.message_types[code]


# Keys and their defaults. ``None`` for BASE_URL / DEFAULT_MESSAGE_TYPE means "from the brand".
DEFAULTS: Mapping[str, Any] = {
    "BRAND": "smsend",
    "BASE_URL": None,
    "USERNAME": "",
    "PASSWORD": "",
    "AUTH": "session",
    "DEFAULT_MESSAGE_TYPE": None,
    "DEFAULT_SENDER": "",
    # (connect, read) seconds. Connect slightly above a multiple of 3 s, the TCP
    # retransmission window (requests' own advice).
    "TIMEOUT": (3.05, 15.0),
    "VERIFY_TLS": True,
    "DEFAULT_REGION": None,
    "BACKEND": DEFAULT_BACKEND,
    "MAX_RECIPIENTS_PER_ORDER": 1000,
    "MAX_SEGMENTS": 7,
    "GATEWAY_TIMEZONE": "Europe/Rome",
    "TASK_BACKEND": "default",
    "TASK_QUEUE": "default",
    "TASK_PRIORITY": 0,
    "MAX_ATTEMPTS": 8,
    # A message the gateway could not be reached for fails after this long in the queue
    # (attempts that reached nobody do not count against MAX_ATTEMPTS).
    "SEND_MAX_AGE_HOURS": 24.0,
    "RETRY_BASE_SECONDS": 30.0,
    "RETRY_MAX_SECONDS": 3600.0,
    "LEASE_SECONDS": None,
    "LOW_CREDIT_THRESHOLD": None,
    "STATUS_POLL_MAX_AGE_HOURS": 72.0,
    "STATUS_POLL_BASE_SECONDS": 60.0,
    # The CACHES alias holding the account-wide "paused until" after a 429 (throttle.py).
    "CACHE": "default",
}


def _error(key: str, problem: str, example: str) -> SmsRestConfigurationError:
    return SmsRestConfigurationError(
        f"{SETTING_NAME}[{key!r}] {problem}. Set it in your settings, for example: "
        f"{SETTING_NAME} = {{{key!r}: {example}, ...}}"
    )


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_base_url(url: str, key: str = "BASE_URL") -> str:
    """Return ``url`` normalised to end with ``/``; refuse plain http to a non-loopback host.

    The login call puts the password in the query string, so only TLS may carry it over a
    network. Plain ``http://`` is accepted for loopback addresses, where the sandbox runs.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _error(
            key, f"is not an http(s) URL ({url!r})", "'https://api.skebby.it/API/v1.0/REST/'"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise _error(
            key,
            "uses plain http:// to a host that is not loopback; the password would cross the "
            "network in clear text. Use https://",
            "'https://app.gateway.smsend.it/API/v1.0/REST/'",
        )
    if parts.query or parts.fragment:
        raise _error(
            key, "must not have a query string or fragment", "'https://host/API/v1.0/REST/'"
        )
    return url if url.endswith("/") else url + "/"


def _timeout(value: Any) -> tuple[float, float]:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return (float(value), float(value))
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        return (float(value[0]), float(value[1]))
    raise _error(
        "TIMEOUT",
        f"must be a positive number or a (connect, read) pair, not {value!r}",
        "(3.05, 15)",
    )


def _positive(raw: Mapping[str, Any], key: str, kind: type = int) -> Any:
    value = raw[key]
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise _error(key, f"must be a positive number, not {value!r}", repr(DEFAULTS[key]))
    return kind(value)


def zone_problem(name: Any) -> str | None:
    """Why ``name`` is not an IANA time zone this machine knows, or ``None`` when it is."""
    if not isinstance(name, str) or not name:
        return f"must be an IANA time zone name such as 'Europe/Rome', not {name!r}"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return (
            f"is {name!r}, which is not a time zone known to this machine "
            "(an IANA name such as 'Europe/Rome'; is the tzdata package installed?)"
        )
    return None


def get_zone(name: str, key: str = "GATEWAY_TIMEZONE") -> ZoneInfo:
    """``ZoneInfo(name)``, or the configuration error naming ``key`` (raised outside the
    lookup's ``except``, so nothing is chained)."""
    problem = zone_problem(name)
    if problem is not None:
        raise _error(key, problem, "'Europe/Rome'")
    return ZoneInfo(name)


def _masked(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of ``raw`` whose ``PASSWORD`` is a :class:`Secret` (a non-string is kept as
    is, for the type error to name it)."""
    data = dict(raw or {})
    password = data.get("PASSWORD")
    if password is None or isinstance(password, str | Secret):
        data["PASSWORD"] = Secret(password)
    return data


def build_settings(
    raw: Mapping[str, Any] | None, *, require_credentials: bool = False
) -> SmsRestSettings:
    """Resolve a raw ``SMSREST`` dict (``None`` = not set) into :class:`SmsRestSettings`.

    Unknown keys are an error (a typo such as ``PASWORD`` would otherwise be silently
    ignored). With ``require_credentials`` a missing USERNAME or PASSWORD is an error too;
    the REST backend asks for that, the locmem and console backends do not need them.
    """
    # First thing: from here on this frame (shown with its locals on a DEBUG error page)
    # holds the password only as a Secret, not the caller's dict with the plain string.
    raw = _masked(raw)
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise SmsRestConfigurationError(
            f"Unknown key(s) in {SETTING_NAME}: {', '.join(unknown)}. "
            f"Known keys: {', '.join(sorted(DEFAULTS))}."
        )
    merged = {**DEFAULTS, **raw}

    brand_name = str(merged["BRAND"]).lower()
    if brand_name not in BRANDS:
        raise _error(
            "BRAND", f"is {merged['BRAND']!r}, which is not one of {sorted(BRANDS)}", "'skebby'"
        )
    brand = BRANDS[brand_name]

    base_url = validate_base_url(merged["BASE_URL"] or brand.base_url)

    auth = merged["AUTH"]
    if auth not in ("session", "token"):
        raise _error("AUTH", f"must be 'session' or 'token', not {auth!r}", "'token'")

    message_type = merged["DEFAULT_MESSAGE_TYPE"] or brand.default_message_type
    if message_type not in brand.message_types:
        raise _error(
            "DEFAULT_MESSAGE_TYPE",
            f"is {message_type!r}, unknown for brand {brand.name!r} "
            f"(known: {', '.join(brand.message_types)})",
            repr(brand.default_message_type),
        )

    username = merged["USERNAME"] or ""
    password = merged["PASSWORD"]
    if not isinstance(password, Secret):
        raise _error(
            "PASSWORD",
            f"must be a string, not {type(password).__name__}",
            "env('SMSREST_PASSWORD')",
        )
    if require_credentials:
        _require_credentials(username, password)

    timeout = _timeout(merged["TIMEOUT"])
    max_attempts = _positive(merged, "MAX_ATTEMPTS")
    lease = merged["LEASE_SECONDS"]
    if lease is None:
        # Longer than the longest HTTP exchange a claim can make (login + POST, each up to
        # connect + read), plus a margin: a lease must never expire under a live worker.
        lease = 2 * sum(timeout) + 30
    elif not isinstance(lease, int | float) or lease <= 0:
        raise _error("LEASE_SECONDS", f"must be a positive number, not {lease!r}", "120")

    threshold = merged["LOW_CREDIT_THRESHOLD"]
    if threshold is not None and (not isinstance(threshold, int) or threshold < 0):
        raise _error(
            "LOW_CREDIT_THRESHOLD",
            f"must be None or a non-negative integer, not {threshold!r}",
            "100",
        )

    cache = merged["CACHE"]
    if not isinstance(cache, str) or not cache:
        raise _error("CACHE", f"must be the name of a CACHES alias, not {cache!r}", "'default'")

    region = merged["DEFAULT_REGION"]
    if region is not None:
        region = str(region).upper()

    return SmsRestSettings(
        brand=brand,
        base_url=base_url,
        username=username,
        password=password,
        auth=auth,
        default_message_type=message_type,
        default_sender=merged["DEFAULT_SENDER"] or "",
        timeout=timeout,
        verify_tls=merged["VERIFY_TLS"],
        default_region=region,
        backend=merged["BACKEND"],
        max_recipients_per_order=_positive(merged, "MAX_RECIPIENTS_PER_ORDER"),
        max_segments=_positive(merged, "MAX_SEGMENTS"),
        gateway_timezone=get_zone(merged["GATEWAY_TIMEZONE"]).key,
        task_backend=merged["TASK_BACKEND"],
        task_queue=merged["TASK_QUEUE"],
        task_priority=int(merged["TASK_PRIORITY"]),
        max_attempts=max_attempts,
        send_max_age_hours=_positive(merged, "SEND_MAX_AGE_HOURS", float),
        retry_base_seconds=_positive(merged, "RETRY_BASE_SECONDS", float),
        retry_max_seconds=_positive(merged, "RETRY_MAX_SECONDS", float),
        lease_seconds=float(lease),
        low_credit_threshold=threshold,
        status_poll_max_age_hours=_positive(merged, "STATUS_POLL_MAX_AGE_HOURS", float),
        status_poll_base_seconds=_positive(merged, "STATUS_POLL_BASE_SECONDS", float),
        cache=cache,
    )


def missing_credentials(username: str, password: str | Secret) -> list[str]:
    """The credential keys (``USERNAME``, ``PASSWORD``) that are empty."""
    return [key for key, value in (("USERNAME", username), ("PASSWORD", password)) if not value]


def _require_credentials(username: str, password: str | Secret) -> None:
    missing = missing_credentials(username, password)
    if missing:
        raise _error(
            missing[0],
            "is not set; the REST backend needs the gateway credentials",
            f"env('SMSREST_{missing[0]}')",
        )


def require_credentials(conf: SmsRestSettings) -> None:
    """Raise the configuration error naming the first missing credential of ``conf``."""
    _require_credentials(conf.username, conf.password)


def get_settings(*, require_credentials: bool = False) -> SmsRestSettings:
    """Read ``settings.SMSREST`` now (never cached, so ``override_settings`` just works)."""
    from django.conf import settings

    return build_settings(
        getattr(settings, SETTING_NAME, None), require_credentials=require_credentials
    )


def replace(conf: SmsRestSettings, **changes: Any) -> SmsRestSettings:
    """A copy of ``conf`` with some fields changed (handy in tests and scripts)."""
    return dataclasses.replace(conf, **changes)
