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
from django_smsrest.limits import DEFAULT_RATE_LIMITS, RateLimits, parse_rate_limits
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
    health_max_age_seconds: float = 600.0
    metrics: bool = False
    code_valid_seconds: float = 180.0
    code_message_type: str = ""
    rate_limits: RateLimits = field(default_factory=RateLimits)
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
# Every key also needs its meaning in SETTINGS_HELP below: the documentation's settings
# reference is generated from the two (tests/test_settings_reference.py fails without it).
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
    # manage.py sms_health exits 1 when a due message has waited longer than this.
    "HEALTH_MAX_AGE_SECONDS": 600,
    # Prometheus metrics (the "metrics" extra): a collector in the default registry.
    "METRICS": False,
    # Login codes (services.send_code): how long a code may still be sent, and its type
    # (None: the brand's first, highest-quality type).
    "CODE_VALID_SECONDS": 180,
    "CODE_MESSAGE_TYPE": None,
    # Codes per number and project-wide per window (limits.py); None turns them off.
    "RATE_LIMITS": DEFAULT_RATE_LIMITS,
    # Consent and retention: see conf_consent.py.
    **CONSENT_DEFAULTS,
}


#: What each key of :data:`DEFAULTS` means, in reStructuredText: the documentation's
#: settings reference is generated from these two mappings (docs/_ext/smsrest_docs.py),
#: so a new key is documented here and nowhere else.
SETTINGS_HELP: Mapping[str, str] = {
    "BRAND": (
        "``smsend``, ``mobyt``, ``aruba`` (types ``N``/``L``/``LL``) or ``skebby`` "
        "(``GP``/``TI``/``SI``): the base URL and the message-type codes."
    ),
    "BASE_URL": (
        "Override the gateway URL (``None``: the brand's URL). ``https://`` only, except to "
        "a loopback address (the sandbox)."
    ),
    "USERNAME": (
        "The gateway account's username; needed only by the REST backend "
        "(``check --deploy`` reports it missing)."
    ),
    "PASSWORD": (
        "The account's password, needed only by the REST backend. A ``str`` or a "
        "``django_smsrest.secret.Secret``; it is held as a ``Secret`` and never stored, "
        "logged or shown."
    ),
    "AUTH": (
        '``"session"`` (``GET login``; the key idles out after 5 minutes and is renewed '
        'transparently) or ``"token"`` (``GET token``; long-lived).'
    ),
    "DEFAULT_MESSAGE_TYPE": (
        "``None``: the brand's high-quality type, ``N`` / ``GP`` (with delivery reports and "
        "a custom sender)."
    ),
    "DEFAULT_SENDER": (
        "Sender alias (at most 11 letters/digits) or number; empty: the account's default."
    ),
    "TIMEOUT": "``(connect, read)`` seconds for every call (or one number for both).",
    "VERIFY_TLS": (
        "``True``, ``False`` (warning W001) or the path of a CA bundle (file or directory); "
        "a missing path is error E005."
    ),
    "DEFAULT_REGION": ('Region for national numbers (``"IT"``); without it numbers need ``+CC``.'),
    "BACKEND": (
        "Dotted path of the backend class. ``django_smsrest.backends.locmem.LocmemBackend`` "
        "(tests: an in-memory outbox), ``django_smsrest.backends.console.ConsoleBackend`` "
        "(prints each SMS)."
    ),
    "MAX_RECIPIENTS_PER_ORDER": (
        "Larger recipient lists go out as several orders, each with its own order id."
    ),
    "MAX_SEGMENTS": "Longest message accepted, in SMS parts.",
    "GATEWAY_TIMEZONE": (
        "IANA zone of the gateway's dates (must be known to ``zoneinfo``; on Windows "
        "install ``tzdata``). Scheduled times at the autumn DST fold are sent in UTC "
        "instead (see :ref:`scheduled-times`)."
    ),
    "TASK_BACKEND": "A key of ``TASKS``: the task backend used to enqueue sends.",
    "TASK_QUEUE": "A queue that task backend accepts (its ``QUEUES``), applied when enqueuing.",
    "TASK_PRIORITY": "Task priority: a whole number, -100 to 100.",
    "MAX_ATTEMPTS": (
        "Whole number ≥ 1: attempts that reached the gateway before a message is FAILED. "
        "Attempts that could not connect at all do not count."
    ),
    "SEND_MAX_AGE_HOURS": (
        "A message still not sent this long after it was queued (e.g. a long outage) is "
        "FAILED at its next failed attempt."
    ),
    "PARAMSMS_KEYED_RECIPIENTS": (
        "How a personalised message's recipients travel in ``POST paramsms``: ``False`` a "
        'JSON array, ``True`` an object keyed ``"0"``, ``"1"``, ... (the documentation types '
        "it as a map; client libraries send either form)."
    ),
    "RETRY_BASE_SECONDS": "Backoff base (full jitter, doubling).",
    "RETRY_MAX_SECONDS": "Backoff cap; not below ``RETRY_BASE_SECONDS``.",
    "LEASE_SECONDS": (
        "How long a worker owns a message (reconciling, status checks, the sweep lock); a "
        "send extends its claim to the worst case of that send. ``None``: "
        "``2 * (connect + read) + 30`` from ``TIMEOUT``."
    ),
    "LOW_CREDIT_THRESHOLD": "Fire the ``low_credit`` signal at or below this many credits.",
    "STATUS_POLL_MAX_AGE_HOURS": "Stop polling delivery states after this.",
    "STATUS_POLL_BASE_SECONDS": "First delivery-status poll; then doubling.",
    "CACHE": (
        "The ``CACHES`` alias keeping the account-wide pause after a 429; use a cache "
        "shared by all workers."
    ),
    "RECEIVE": (
        "The sweep (``send_sms --sweep`` / ``--loop``, ``sweep_task``) also polls received SMS."
    ),
    "CALLBACK_TOKENS": (
        "Secret tokens accepted in the delivery callback URL (16+ characters each; a list, "
        "to rotate). Empty: the view is a 404."
    ),
    "CONCURRENCY": (
        "``POST sms`` requests one flush keeps in flight (threads sharing one login and "
        "keep-alive connections). ``1`` sends one message at a time. See "
        ":doc:`/performance`."
    ),
    "HEALTH_MAX_AGE_SECONDS": (
        "``manage.py sms_health`` exits 1 when a due message has waited longer than this "
        "(seconds)."
    ),
    "METRICS": (
        "Prometheus metrics (extra ``metrics``): a collector in prometheus-client's default "
        "registry and the sending process's gateway timings."
    ),
    "CODE_VALID_SECONDS": (
        "How long a login code may still be sent (seconds); after that it is never POSTed "
        "and ends EXPIRED."
    ),
    "CODE_MESSAGE_TYPE": (
        "Message type of login codes; ``None``: the brand's first, highest-quality type."
    ),
    "RATE_LIMITS": (
        "Login codes allowed per number and for the whole site (``CODES_PER_NUMBER``, "
        '``CODES``: lists like ``"5/hour"``); ``None`` turns them off.'
    ),
    "OVERRIDE_RECIPIENTS": (
        "Staging safety: every message goes to these numbers only (the row keeps its real "
        "recipients and records the override); ``check --deploy`` warns while it is on "
        "with ``DEBUG = False``. See :doc:`/consent`."
    ),
    "STOP_WORDS": (
        "Received SMS whose whole text is one of these words put their sender on the "
        "suppression list (case, accents and punctuation ignored)."
    ),
    "SYNC_BLACKLIST": (
        "The sweep also syncs the suppression list with the gateway's blacklist (at most "
        "hourly); ``send_sms --sync-blacklist`` does it at once."
    ),
    "QUIET_HOURS": (
        '``("21:00", "09:00")``: a marketing message due inside them is scheduled for their '
        "end, in the recipient's time zone. ``None``: off."
    ),
    "RETENTION_DAYS": (
        "The sweep deletes finished messages and received SMS older than this many days "
        "(``cleanup_sms`` does it on demand). ``None``: keep everything."
    ),
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
    if region is None:
        # django-phonenumber-field's setting: a project that has it already said where its
        # national numbers are from.
        region = _phonenumber_default_region()
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
        "health_max_age_seconds": reader.seconds("HEALTH_MAX_AGE_SECONDS"),
        "metrics": reader.flag("METRICS"),
    }
    if values["retry_max_seconds"] < values["retry_base_seconds"]:
        reader.problem(
            "RETRY_MAX_SECONDS",
            f"({values['retry_max_seconds']:g}) must not be below "
            f"RETRY_BASE_SECONDS ({values['retry_base_seconds']:g})",
        )

    values.update(_inbound(reader))
    values.update(_codes(reader, brand))
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


def _codes(reader: _Reader, brand: Brand | None) -> dict[str, Any]:
    """``CODE_VALID_SECONDS``, ``CODE_MESSAGE_TYPE`` (a type of the brand; ``None``: its
    first, highest-quality type) and ``RATE_LIMITS`` (:mod:`django_smsrest.limits`)."""
    code_type = reader.merged["CODE_MESSAGE_TYPE"]
    if brand is not None:
        first = next(iter(brand.message_types))
        if code_type is None:
            code_type = first
        elif code_type not in brand.message_types:
            code_type = reader.problem(
                "CODE_MESSAGE_TYPE",
                f"is {code_type!r}, unknown for brand {brand.name!r} "
                f"(known: {', '.join(brand.message_types)})",
                repr(first),
            )
    limits, problem = parse_rate_limits(reader.merged["RATE_LIMITS"])
    if problem is not None:
        reader.problem("RATE_LIMITS", problem)
    return {
        "code_valid_seconds": reader.seconds("CODE_VALID_SECONDS"),
        "code_message_type": code_type or "",
        "rate_limits": limits,
    }


def _phonenumber_default_region() -> str | None:
    """``settings.PHONENUMBER_DEFAULT_REGION`` when Django is configured and it is set."""
    from django.conf import settings

    if not settings.configured:
        return None
    value = getattr(settings, "PHONENUMBER_DEFAULT_REGION", None)
    return value or None


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
