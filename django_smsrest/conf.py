"""The one place that reads the ``SMSREST`` settings dict.

Everything in the app asks :func:`get_settings` for configuration, at call time, never at
import time. A missing or wrong value raises :class:`~django_smsrest.exceptions.
SmsRestConfigurationError` whose message names the exact key to add or fix, e.g.::

    SMSREST = {"USERNAME": "...", "PASSWORD": "...", "BRAND": "smsend"}

The brand presets (base URL and message types per reseller) are in
:mod:`django_smsrest.brands`; ``BRANDS``, ``Brand`` and ``MessageType`` are re-exported here.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django_smsrest.brands import BRANDS, Brand, MessageType
from django_smsrest.conf_consent import DEFAULTS as CONSENT_DEFAULTS
from django_smsrest.conf_consent import read_consent
from django_smsrest.exceptions import MissingCredentials, SmsRestConfigurationError
from django_smsrest.secret import Secret

SETTING_NAME = "SMSREST"


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
    paramsms_keyed_recipients: bool
    retry_base_seconds: float
    retry_max_seconds: float
    lease_seconds: float
    low_credit_threshold: int | None
    status_poll_max_age_hours: float
    status_poll_base_seconds: float
    cache: str = "default"
    receive: bool = False
    callback_tokens: tuple[Secret, ...] = field(default=(), repr=False)
    concurrency: int = 4
    # Consent and retention (read by conf_consent.read_consent).
    override_recipients: tuple[str, ...] = ()
    stop_words: tuple[str, ...] = ()
    sync_blacklist: bool = False
    quiet_hours: tuple[time, time] | None = None
    retention_days: int | None = None

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
    # POST paramsms: recipients as an object keyed "0", "1", ... instead of a JSON array.
    "PARAMSMS_KEYED_RECIPIENTS": False,
    "RETRY_BASE_SECONDS": 30.0,
    "RETRY_MAX_SECONDS": 3600.0,
    "LEASE_SECONDS": None,
    "LOW_CREDIT_THRESHOLD": None,
    "STATUS_POLL_MAX_AGE_HOURS": 72.0,
    "STATUS_POLL_BASE_SECONDS": 60.0,
    # The CACHES alias holding the account-wide "paused until" after a 429 (throttle.py).
    "CACHE": "default",
    # The sweep also polls received SMS (services.receive_sms).
    "RECEIVE": False,
    # Secret tokens accepted in the delivery-callback URL (a list: rotate without downtime).
    "CALLBACK_TOKENS": [],
    # Requests one flush keeps in flight (threads sharing one login); 1 = one at a time.
    "CONCURRENCY": 4,
    # Consent and retention: see conf_consent.py.
    **CONSENT_DEFAULTS,
}


@dataclass(frozen=True)
class Problem:
    """One wrong ``SMSREST`` value: the key and a sentence a person can act on."""

    key: str
    message: str
    example: str = ""

    @property
    def text(self) -> str:
        """``SMSREST['KEY'] <message>. Set it in your settings, for example: ...``"""
        text = f"{SETTING_NAME}[{self.key!r}] {self.message}."
        if self.example:
            text += (
                f" Set it in your settings, for example: "
                f"{SETTING_NAME} = {{{self.key!r}: {self.example}, ...}}"
            )
        return text


def _error(key: str, problem: str, example: str) -> SmsRestConfigurationError:
    return SmsRestConfigurationError(Problem(key, problem, example).text)


def _errors(problems: list[Problem]) -> SmsRestConfigurationError:
    """One configuration error listing every problem (``.problems`` keeps them apart)."""
    if len(problems) == 1:
        message = problems[0].text
    else:
        listed = " ".join(f"({n}) {p.text}" for n, p in enumerate(problems, 1))
        message = f"{len(problems)} problems in {SETTING_NAME}: {listed}"
    error = SmsRestConfigurationError(message)
    error.problems = list(problems)
    return error


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


def base_url_problem(url: str, key: str = "BASE_URL") -> Problem | None:
    """Why ``url`` cannot be the gateway's base URL, or ``None`` when it can.

    The login call puts the password in the query string, so only TLS may carry it over a
    network. Plain ``http://`` is accepted for loopback addresses, where the sandbox runs.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Problem(
            key, f"is not an http(s) URL ({url!r})", "'https://api.skebby.it/API/v1.0/REST/'"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return Problem(
            key,
            "uses plain http:// to a host that is not loopback; the password would cross the "
            "network in clear text. Use https://",
            "'https://app.gateway.smsend.it/API/v1.0/REST/'",
        )
    if parts.query or parts.fragment:
        return Problem(
            key, "must not have a query string or fragment", "'https://host/API/v1.0/REST/'"
        )
    return None


def validate_base_url(url: str, key: str = "BASE_URL") -> str:
    """Return ``url`` normalised to end with ``/``; raise the configuration error of
    :func:`base_url_problem` (plain http to a non-loopback host, not a URL...)."""
    problem = base_url_problem(url, key)
    if problem is not None:
        raise SmsRestConfigurationError(problem.text)
    return url if url.endswith("/") else url + "/"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Reader:
    """Reads the merged ``SMSREST`` values, noting every problem instead of stopping at the
    first: ``manage.py check`` then reports them all at once. Each getter returns the
    value, or the default when the value is wrong (so later checks still run)."""

    def __init__(self, merged: Mapping[str, Any]) -> None:
        self.merged = merged
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str, example: str | None = None) -> Any:
        self.problems.append(
            Problem(key, message, repr(DEFAULTS[key]) if example is None else example)
        )
        return DEFAULTS[key]

    def text(self, key: str, *, empty: bool = True, example: str | None = None) -> str:
        value = self.merged[key]
        if value is None and empty:
            return ""
        if not isinstance(value, str) or (not empty and not value):
            return self.problem(
                key, f"must be a {'' if empty else 'non-empty '}string, not {value!r}", example
            )
        return value

    def integer(self, key: str, low: int, high: int | None = None) -> int:
        value = self.merged[key]
        if not isinstance(value, int) or isinstance(value, bool):
            kind = "a whole number" if _is_number(value) else "an integer"
            return self.problem(key, f"must be {kind}, not {value!r}")
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            return self.problem(key, f"must be {bounds}, not {value!r}")
        return value

    def flag(self, key: str) -> bool:
        value = self.merged[key]
        if not isinstance(value, bool):
            return self.problem(key, f"must be True or False, not {value!r}")
        return value

    def seconds(self, key: str) -> float:
        value = self.merged[key]
        if not _is_number(value) or value <= 0:
            return self.problem(key, f"must be a positive number, not {value!r}")
        return float(value)


def _timeout(reader: _Reader) -> tuple[float, float]:
    value = reader.merged["TIMEOUT"]
    if _is_number(value) and value > 0:
        return (float(value), float(value))
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(_is_number(v) and v > 0 for v in value)
    ):
        return (float(value[0]), float(value[1]))
    reader.problem(
        "TIMEOUT",
        f"must be a positive number or a (connect, read) pair, not {value!r}",
        "(3.05, 15)",
    )
    return DEFAULTS["TIMEOUT"]


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


def merged_settings(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """``DEFAULTS`` overlaid with ``raw`` (unknown keys kept), ``PASSWORD`` as a Secret."""
    return {**DEFAULTS, **_masked(raw)}


def settings_problems(raw: Mapping[str, Any] | None) -> list[Problem]:
    """Every problem of a raw ``SMSREST`` dict (empty when :func:`build_settings` would
    succeed). What ``manage.py check`` reports, one message per problem."""
    return _resolve(_masked(raw))[1]


def build_settings(
    raw: Mapping[str, Any] | None, *, require_credentials: bool = False
) -> SmsRestSettings:
    """Resolve a raw ``SMSREST`` dict (``None`` = not set) into :class:`SmsRestSettings`.

    Every value is validated; the :class:`SmsRestConfigurationError` raised names every
    wrong key at once (``.problems`` lists them). Unknown keys are an error (a typo such as
    ``PASWORD`` would otherwise be silently ignored). With ``require_credentials`` a
    missing USERNAME or PASSWORD raises :class:`MissingCredentials`; the REST backend asks
    for that, the locmem and console backends do not need them.
    """
    # First thing: from here on this frame (shown with its locals on a DEBUG error page)
    # holds the password only as a Secret, not the caller's dict with the plain string.
    raw = _masked(raw)
    conf, problems = _resolve(raw)
    if problems:
        raise _errors(problems)
    assert conf is not None
    if require_credentials:
        _require_credentials(conf.username, conf.password)
    return conf


def _resolve(raw: Mapping[str, Any]) -> tuple[SmsRestSettings | None, list[Problem]]:
    """The settings and no problem, or ``None`` and every problem found."""
    reader = _Reader({**DEFAULTS, **raw})
    merged = reader.merged
    for key in sorted(set(raw) - set(DEFAULTS)):
        close = difflib.get_close_matches(key, list(DEFAULTS), n=1)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else f"known keys: {', '.join(sorted(DEFAULTS))}"
        )
        reader.problems.append(Problem(key, f"is not a setting of django-smsrest ({hint})"))

    brand_name = str(merged["BRAND"]).lower()
    brand = BRANDS.get(brand_name)
    if brand is None:
        reader.problem(
            "BRAND", f"is {merged['BRAND']!r}, which is not one of {sorted(BRANDS)}", "'skebby'"
        )

    base_url = merged["BASE_URL"] or (brand or BRANDS["smsend"]).base_url
    if not isinstance(base_url, str):
        reader.problem(
            "BASE_URL",
            f"must be a URL string, not {base_url!r}",
            "'https://api.skebby.it/API/v1.0/REST/'",
        )
    elif (url_problem := base_url_problem(base_url)) is not None:
        reader.problems.append(url_problem)
    else:
        base_url = validate_base_url(base_url)

    auth = merged["AUTH"]
    if auth not in ("session", "token"):
        auth = reader.problem("AUTH", f"must be 'session' or 'token', not {auth!r}", "'token'")

    message_type = merged["DEFAULT_MESSAGE_TYPE"]
    if (
        brand is not None
        and (message_type or brand.default_message_type) not in brand.message_types
    ):
        reader.problem(
            "DEFAULT_MESSAGE_TYPE",
            f"is {message_type!r}, unknown for brand {brand.name!r} "
            f"(known: {', '.join(brand.message_types)})",
            repr(brand.default_message_type),
        )

    password = merged["PASSWORD"]
    if not isinstance(password, Secret):
        reader.problem(
            "PASSWORD",
            f"must be a string, not {type(password).__name__}",
            "env('SMSREST_PASSWORD')",
        )

    verify = merged["VERIFY_TLS"]
    if not isinstance(verify, bool) and not (isinstance(verify, str) and verify):
        reader.problem(
            "VERIFY_TLS",
            f"must be True, False or the path of a CA bundle, not {verify!r}",
            "'/etc/ssl/certs/ca.pem'",
        )

    region = merged["DEFAULT_REGION"]
    if region is not None and not (
        isinstance(region, str) and len(region) == 2 and region.isalpha()
    ):
        reader.problem(
            "DEFAULT_REGION", f"must be None or a two-letter region code, not {region!r}", "'IT'"
        )

    timeout = _timeout(reader)
    lease = merged["LEASE_SECONDS"]
    if lease is None:
        # Longer than the longest HTTP exchange a claim can make (login + POST, each up to
        # connect + read), plus a margin: a lease must never expire under a live worker.
        lease = 2 * sum(timeout) + 30
    elif not _is_number(lease) or lease <= 0:
        reader.problem("LEASE_SECONDS", f"must be None or a positive number, not {lease!r}", "120")

    threshold = merged["LOW_CREDIT_THRESHOLD"]
    if threshold is not None:
        threshold = reader.integer("LOW_CREDIT_THRESHOLD", 0)

    zone = merged["GATEWAY_TIMEZONE"]
    problem = zone_problem(zone)
    if problem is not None:
        reader.problem("GATEWAY_TIMEZONE", problem, "'Europe/Rome'")

    values: dict[str, Any] = {
        "username": reader.text("USERNAME", example="env('SMSREST_USERNAME')"),
        "default_sender": reader.text("DEFAULT_SENDER"),
        "backend": reader.text("BACKEND", empty=False),
        "task_backend": reader.text("TASK_BACKEND", empty=False),
        "task_queue": reader.text("TASK_QUEUE", empty=False),
        "cache": reader.text("CACHE", empty=False),
        "task_priority": reader.integer("TASK_PRIORITY", -100, 100),
        "max_recipients_per_order": reader.integer("MAX_RECIPIENTS_PER_ORDER", 1),
        "max_segments": reader.integer("MAX_SEGMENTS", 1),
        "max_attempts": reader.integer("MAX_ATTEMPTS", 1),
        "concurrency": reader.integer("CONCURRENCY", 1),
        "send_max_age_hours": reader.seconds("SEND_MAX_AGE_HOURS"),
        "paramsms_keyed_recipients": reader.flag("PARAMSMS_KEYED_RECIPIENTS"),
        "retry_base_seconds": reader.seconds("RETRY_BASE_SECONDS"),
        "retry_max_seconds": reader.seconds("RETRY_MAX_SECONDS"),
        "status_poll_max_age_hours": reader.seconds("STATUS_POLL_MAX_AGE_HOURS"),
        "status_poll_base_seconds": reader.seconds("STATUS_POLL_BASE_SECONDS"),
    }
    if values["retry_max_seconds"] < values["retry_base_seconds"]:
        reader.problem(
            "RETRY_MAX_SECONDS",
            f"({values['retry_max_seconds']:g}) must not be below "
            f"RETRY_BASE_SECONDS ({values['retry_base_seconds']:g})",
        )

    values.update(_inbound(reader))
    values.update(read_consent(reader, region.upper() if isinstance(region, str) else None))
    if reader.problems or brand is None:
        return None, reader.problems
    return (
        SmsRestSettings(
            brand=brand,
            base_url=base_url,
            password=password,
            auth=auth,
            default_message_type=message_type or brand.default_message_type,
            timeout=timeout,
            verify_tls=verify,
            default_region=region.upper() if region else None,
            gateway_timezone=get_zone(zone).key,
            lease_seconds=float(lease),
            low_credit_threshold=threshold,
            **values,
        ),
        [],
    )


def _inbound(reader: _Reader) -> dict[str, Any]:
    """``RECEIVE`` (a bool) and ``CALLBACK_TOKENS`` (strings of 16+ characters, kept as
    :class:`Secret` so that no repr or log shows them)."""
    receive = reader.merged["RECEIVE"]
    if not isinstance(receive, bool):
        receive = reader.problem("RECEIVE", f"must be True or False, not {receive!r}", "True")
    tokens = reader.merged["CALLBACK_TOKENS"]
    if not isinstance(tokens, list | tuple) or not all(
        isinstance(t, str | Secret) and len(Secret(t).reveal()) >= 16 for t in tokens
    ):  # the values are never shown: they are secrets
        tokens = reader.problem(
            "CALLBACK_TOKENS", "must be a list of strings of 16+ characters", "[env('TOKEN')]"
        )
    return {"receive": receive, "callback_tokens": tuple(Secret(t) for t in tokens)}


def missing_credentials(username: str, password: str | Secret) -> list[str]:
    """The credential keys (``USERNAME``, ``PASSWORD``) that are empty."""
    return [key for key, value in (("USERNAME", username), ("PASSWORD", password)) if not value]


def _require_credentials(username: str, password: str | Secret) -> None:
    missing = missing_credentials(username, password)
    if missing:
        keys = " and ".join(f"{SETTING_NAME}[{key!r}]" for key in missing)
        raise MissingCredentials(
            f"{keys} {'is' if len(missing) == 1 else 'are'} not set; the REST backend needs "
            "the gateway credentials to log in. Read them from the environment, for "
            f"example: {SETTING_NAME} = {{'USERNAME': env('SMSREST_USERNAME'), "
            "'PASSWORD': env('SMSREST_PASSWORD'), ...}",
            missing=missing,
        )


def require_credentials(conf: SmsRestSettings) -> None:
    """Raise :class:`MissingCredentials` naming every missing credential of ``conf``."""
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
