"""Validation of ``POST sms`` bodies and of the gateway's date formats.

Pure functions: they read a decoded JSON body and the sandbox config and either return a
:class:`SendRequest` or raise :class:`ApiError` (a 400 whose message a person can act on).
Nothing here touches the sandbox's state, so it runs outside the state lock.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django_smsrest.conf import BRANDS, MessageType
from django_smsrest.sandbox.config import RECIPIENT_RE, SandboxConfig, internal_type
from django_smsrest.sandbox.replies import ApiError
from django_smsrest.sandbox.sendkinds import group_recipients, param_recipients
from django_smsrest.segments import MAX_CHARS, count_segments, is_gsm7, non_gsm_characters


def _all_message_types() -> dict[str, MessageType]:
    """Both brand code sets (N/L/LL and GP/TI/SI) taken from the app's brand presets."""
    types: dict[str, MessageType] = {}
    for brand in BRANDS.values():
        types.update(brand.message_types)
    return types


#: Every message type the sandbox accepts, by code.
MESSAGE_TYPES: dict[str, MessageType] = _all_message_types()

ORDER_ID_RE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")
NUMERIC_SENDER_RE = re.compile(r"\+[0-9]{1,15}|[0-9]{1,16}")  # 16 characters at most
ALPHA_SENDER_RE = re.compile(r"[A-Za-z0-9 .\-_&]{1,11}")

_DIGIT_FORMATS = {
    6: "%d%m%y",
    8: "%Y%m%d",
    10: "%d%m%y%H%M",
    12: "%Y%m%d%H%M",
    14: "%Y%m%d%H%M%S",
}
#: The sandbox refuses schedules further ahead (its own limit: the gateway documents none;
#: the year 9999 cannot be shown in every zone).
MAX_SCHEDULE_AHEAD = timedelta(days=3650)

# What Gson's default Date serialisation produces (the Java quick-start example sends it):
# Java's en-US MEDIUM date-time, "Dec 2, 2026 9:27:02 PM" up to JDK 8, with a comma after
# the year since JDK 9 (CLDR) and a narrow no-break space before AM/PM since JDK 20.
_GSON_FORMATS = ("%b %d, %Y, %I:%M:%S %p", "%b %d, %Y %I:%M:%S %p")
_GSON_RE = re.compile(r"[A-Z][a-z]{2} \d{1,2}, \d{4},? \d{1,2}:\d{2}:\d{2} [AP]M")


def _parse_gson(text: str) -> datetime:
    text = text.replace("\u202f", " ").replace("\u00a0", " ")
    if not _GSON_RE.fullmatch(text):
        raise ValueError(text)
    for fmt in _GSON_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(text)


def parse_gateway_datetime(value: str, tz: zoneinfo.ZoneInfo) -> datetime:
    """Parse a date the way the gateway documents them; naive values are in ``tz``.

    Accepted: digits only ``ddMMyy``, ``yyyyMMdd``, ``ddMMyyHHmm``, ``yyyyMMddHHmm``,
    ``yyyyMMddHHmmss``; ``yyyy-MM-dd HH:mm[:ss]`` (and the documented ``yyyy-MM-dd HH:mm.0``);
    ISO 8601 as ``datetime.isoformat()`` writes it (``T``, fractions, ``+02:00``/``Z``);
    Gson's default ``Dec 23, 2017 10:10:10 AM`` (also ``Dec 23, 2017, 10:10:10 AM`` and
    with U+202F before ``AM``/``PM``, as newer JDKs write it). Raises ``ValueError``
    otherwise.
    """
    text = value.strip()
    if text.isdigit():
        fmt = _DIGIT_FORMATS.get(len(text))
        if fmt is None:
            raise ValueError(text)
        parsed = datetime.strptime(text, fmt)
    elif text[:1].isalpha():
        parsed = _parse_gson(text)
    else:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}\.0", text):
            text = text[:-2]
        parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def parse_timezone(value: Any, field: str, default: str) -> zoneinfo.ZoneInfo:
    """The IANA zone named by ``value`` (``default`` when empty); 400 when unknown."""
    name = default if value in (None, "") else value
    try:
        if not isinstance(name, str):
            raise ValueError(name)
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ApiError(
            f"{field} must be an IANA time zone name such as 'Europe/Rome', not {value!r}.",
            "INVALID_TIMEZONE",
        ) from None


@dataclass(frozen=True)
class SendRequest:
    """A valid ``POST sms`` body, normalised."""

    order_id: str | None
    message: str
    message_type: str
    internal_type: str
    delivery_report: bool
    sender: str
    recipients: list[str]
    dropped_recipients: list[str]
    encoding: str
    segments: int
    scheduled_at: datetime | None
    return_credits: bool
    return_remaining: bool
    campaign_name: str | None
    #: Why a given scheduled time was not kept (it was not in the future), for the page.
    schedule_note: str | None = None
    #: The endpoint: ``sms``, ``paramsms`` or ``smstogroups``.
    endpoint: str = "sms"
    #: paramsms: the personalised text of each recipient (same order as ``recipients``).
    texts: tuple[str, ...] | None = None
    #: Parts charged per recipient (same order as ``recipients``); empty: ``segments`` each.
    parts: tuple[int, ...] = ()
    #: smstogroups: the group names the recipients came from.
    groups: tuple[str, ...] = ()

    @property
    def cost(self) -> int:
        """Credits this order takes: the parts of every accepted recipient's text."""
        return sum(self.parts) if self.parts else self.segments * len(self.recipients)


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(f"{name} must be true or false, not {value!r}.", "INVALID_PARAMETER")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(raw: bytes) -> Any:
    """Decode strict JSON: ``NaN``/``Infinity`` (which Python's parser accepts) are refused.

    Raises ``ValueError`` with a reason, also for text nested too deeply to parse (the
    parser's ``RecursionError`` would otherwise end the connection unanswered).
    """
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8") from None


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying why it is not one."""
    try:
        body = load_json(raw) if raw else None
    except ValueError as error:
        reason = str(error) if "nested" in str(error) else "it is not valid UTF-8 JSON"
        raise ApiError(
            f"The request body cannot be read: {reason}. Send a JSON object with "
            "Content-Type: application/json (NaN and Infinity are not JSON).",
            "INVALID_JSON",
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            "The request body must be a JSON object such as "
            '{"message_type": "N", "message": "Hello", "recipient": ["+393471234567"]}.',
            "INVALID_JSON",
        )
    return body


def validate_order_id(body: dict[str, Any]) -> str | None:
    """The client's ``order_id`` (``None`` when absent), or a 400 when malformed."""
    order_id = body.get("order_id")
    if order_id in (None, ""):
        return None
    if not isinstance(order_id, str) or not ORDER_ID_RE.fullmatch(order_id):
        raise ApiError(
            "order_id must be 1 to 32 characters among letters, digits, '_', '.' and '-' "
            f"(got {order_id!r}).",
            "INVALID_ORDER_ID",
        )
    return order_id


def _message_type(body: dict[str, Any]) -> tuple[str, MessageType]:
    code = body.get("message_type")
    if code in (None, ""):
        raise ApiError(
            "message_type is missing. Use N, L or LL (smSend, Mobyt, Aruba) or GP, TI or SI "
            "(Skebby).",
            "MISSING_FIELD",
        )
    if not isinstance(code, str) or code not in MESSAGE_TYPES:
        raise ApiError(
            f"message_type {code!r} is not a known message type. Use one of: "
            f"{', '.join(MESSAGE_TYPES)}.",
            "UNKNOWN_MESSAGE_TYPE",
        )
    return code, MESSAGE_TYPES[code]


def _message_text(body: dict[str, Any]) -> tuple[str, str]:
    """(message, encoding) after the presence, type and encoding checks."""
    message = body.get("message")
    if message is None:
        raise ApiError("message is missing: the text of the SMS is required.", "MISSING_FIELD")
    if not isinstance(message, str):
        raise ApiError("message must be a string.", "INVALID_PARAMETER")
    if not message.strip():
        raise ApiError("message is empty: there is no text to send.", "EMPTY_MESSAGE")
    encoding = body.get("encoding") or "gsm"
    if not isinstance(encoding, str) or encoding not in MAX_CHARS:
        raise ApiError(f"encoding must be 'gsm' or 'ucs2', not {encoding!r}.", "INVALID_ENCODING")
    return message, encoding


def measure(
    message: str,
    encoding: str,
    body: dict[str, Any],
    config: SandboxConfig,
    code: str,
    mtype: MessageType,
    what: str = "message",
) -> int:
    """Parts the text takes, after the length, alphabet, type and ``max_fragments`` checks.

    ``what`` names the text in the errors (``message``, or the personalised message of
    one recipient of ``paramsms``).
    """
    limit = MAX_CHARS[encoding]
    if len(message) > limit:
        raise ApiError(
            f"{what} is {len(message)} characters long; the limit with encoding "
            f"'{encoding}' is {limit}.",
            "MESSAGE_TOO_LONG",
        )
    counted = message
    if encoding == "gsm" and not is_gsm7(message):
        bad = non_gsm_characters(message)
        if config.non_gsm == "reject":
            shown = " ".join(repr(ch) for ch in bad[:5])
            raise ApiError(
                f"{what} contains characters that are not in the GSM 7-bit alphabet "
                f'({shown}); send it with "encoding": "ucs2" or remove them.',
                "NON_GSM_CHARACTERS",
            )
        # Accepting it, the way a gateway that substitutes '?' would: charge as GSM text.
        counted = "".join("?" if ch in bad else ch for ch in message)
    segments = count_segments(counted, encoding).segments
    if mtype.max_segments is not None and segments > mtype.max_segments:
        single = 160 if encoding == "gsm" else 70
        raise ApiError(
            f"Message type {code} ({mtype.label}) allows a single SMS: at most {single} "
            f"characters with encoding '{encoding}'; {what} needs {segments} parts.",
            "TOO_MANY_SEGMENTS",
        )
    max_fragments = body.get("max_fragments")
    if max_fragments is not None:
        if (
            isinstance(max_fragments, bool)
            or not isinstance(max_fragments, int)
            or (max_fragments < 1)
        ):
            raise ApiError("max_fragments must be a positive integer.", "INVALID_PARAMETER")
        if segments > max_fragments:
            if body.get("truncate") is False:
                raise ApiError(
                    f"The {what} needs {segments} parts, more than max_fragments="
                    f"{max_fragments}, and truncate is false.",
                    "MESSAGE_TOO_LONG",
                )
            segments = max_fragments
    return segments


def _recipients(
    body: dict[str, Any], config: SandboxConfig, allow_invalid: bool
) -> tuple[list[str], list[str]]:
    recipients = body.get("recipient")
    if recipients is None:
        raise ApiError(
            'recipient is missing: give a list of numbers, e.g. ["+393471234567"].',
            "MISSING_FIELD",
        )
    if not isinstance(recipients, list) or not recipients:
        raise ApiError(
            'recipient must be a non-empty list of numbers, e.g. ["+393471234567"].',
            "NO_RECIPIENTS",
        )
    if len(recipients) > config.max_recipients:
        raise ApiError(
            f"Too many recipients: {len(recipients)} in one request, the limit is "
            f"{config.max_recipients}. Split them into several orders.",
            "TOO_MANY_RECIPIENTS",
        )
    valid: list[str] = []
    dropped: list[str] = []
    for number in recipients:
        if isinstance(number, str) and RECIPIENT_RE.fullmatch(number):
            valid.append(number)
        elif allow_invalid:
            dropped.append(str(number))
        else:
            raise ApiError(
                f"Recipient {number!r} is not a valid international number: write '+' (or "
                "'00') then the country code and number, 6 to 15 digits in all, without "
                "spaces (e.g. +393471234567). Set allowInvalidRecipients to true to skip "
                "invalid numbers instead.",
                "INVALID_RECIPIENT",
            )
    if not valid:
        raise ApiError(
            "None of the recipients is a valid international number (e.g. +393471234567).",
            "NO_RECIPIENTS",
        )
    return valid, dropped


def _sender(body: dict[str, Any], code: str, mtype: MessageType) -> str:
    sender = body.get("sender")
    if sender in (None, ""):
        return ""
    if not isinstance(sender, str):
        raise ApiError("sender must be a string or null.", "INVALID_SENDER")
    if not mtype.custom_sender:
        raise ApiError(
            f"Message type {code} ({mtype.label}) does not allow a custom sender: leave "
            "sender empty or null, or use a type that allows one.",
            "SENDER_NOT_ALLOWED",
        )
    if NUMERIC_SENDER_RE.fullmatch(sender):
        return sender
    if ALPHA_SENDER_RE.fullmatch(sender) and not sender.isdigit():
        return sender
    raise ApiError(
        f"sender {sender!r} is not valid: use an alphanumeric alias of at most 11 "
        "characters (letters, digits, spaces) or a phone number of at most 16 characters "
        "('+' and digits).",
        "INVALID_SENDER",
    )


def _schedule(
    body: dict[str, Any], config: SandboxConfig, now: datetime
) -> tuple[datetime | None, str | None]:
    """(the scheduled time if in the future else ``None`` = send now, a note); 400 if bad.

    A time that is not in the future is sent at once, with a note saying so, unless
    ``strict_schedule`` is on (then more than ``schedule_grace`` seconds past is a 400):
    the documentation does not say that the real gateway refuses a past time.
    """
    value = body.get("scheduled_delivery_time")
    tz = parse_timezone(
        body.get("scheduled_delivery_timezone"), "scheduled_delivery_timezone", config.timezone
    )
    if value in (None, ""):
        return None, None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        when = parse_gateway_datetime(value, tz)
    except ValueError:
        raise ApiError(
            f"scheduled_delivery_time {value!r} is not a date the gateway understands. Use "
            "yyyyMMddHHmmss (20250131235900), 'yyyy-MM-dd HH:mm', 'yyyy-MM-dd HH:mm:ss' or "
            "ISO 8601 ('2025-01-31T23:59:00'); add scheduled_delivery_timezone for a zone "
            f"other than {config.timezone}.",
            "INVALID_DATE",
        ) from None
    try:
        in_utc = when.astimezone(UTC)
        in_utc.astimezone(zoneinfo.ZoneInfo(config.timezone))
    except (OverflowError, ValueError):
        in_utc = None
    if in_utc is None or in_utc > now + MAX_SCHEDULE_AHEAD:
        raise ApiError(
            f"scheduled_delivery_time {value!r} is out of range: the sandbox keeps schedules "
            f"up to {MAX_SCHEDULE_AHEAD.days // 365} years ahead.",
            "DATE_OUT_OF_RANGE",
        )
    if when <= now:
        shown = when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
        if config.strict_schedule and when < now - timedelta(seconds=config.schedule_grace):
            raise ApiError(
                f"scheduled_delivery_time {shown} is in the past; give a future time or "
                "leave it out to send now.",
                "DATE_IN_PAST",
            )
        return None, (
            f"scheduled_delivery_time {shown} was not in the future: sent at once "
            "(strict_schedule would refuse it)"
        )
    return when, None


def validate_send(
    body: dict[str, Any],
    config: SandboxConfig,
    now: datetime,
    order_id: str | None,
    endpoint: str = "sms",
) -> SendRequest:
    """Check a send body as the gateway would; raise :class:`ApiError` (400).

    ``endpoint`` is ``"sms"`` (``recipient``: numbers), ``"paramsms"`` (``recipients``:
    one parameter map per recipient, ``${name}`` placeholders substituted and each
    personalised text checked) or ``"smstogroups"`` (``recipient``: group names from
    ``config.groups``). See :mod:`django_smsrest.sandbox.sendkinds`.
    """
    code, mtype = _message_type(body)
    message, encoding = _message_text(body)
    allow_invalid = _flag(body, "allowInvalidRecipients")
    texts: list[str] | None = None
    groups: list[str] = []
    if endpoint == "paramsms":
        recipients, dropped, texts = param_recipients(body, config, allow_invalid, message)
        parts = [
            measure(text, encoding, body, config, code, mtype, f"the message for {number}")
            for number, text in zip(recipients, texts, strict=True)
        ]
        segments = max(parts)
    else:
        segments = measure(message, encoding, body, config, code, mtype)
        if endpoint == "smstogroups":
            recipients, groups = group_recipients(body, config)
            dropped = []
        else:
            recipients, dropped = _recipients(body, config, allow_invalid)
        parts = [segments] * len(recipients)
    sender = _sender(body, code, mtype)
    scheduled_at, schedule_note = _schedule(body, config, now)
    campaign = body.get("campaign_name")
    return SendRequest(
        order_id=order_id,
        message=message,
        message_type=code,
        internal_type=internal_type(code),
        delivery_report=mtype.delivery_report,
        sender=sender,
        recipients=recipients,
        dropped_recipients=dropped,
        encoding=encoding,
        segments=segments,
        scheduled_at=scheduled_at,
        schedule_note=schedule_note,
        return_credits=_flag(body, "returnCredits"),
        return_remaining=_flag(body, "returnRemaining"),
        campaign_name=campaign if isinstance(campaign, str) else None,
        endpoint=endpoint,
        texts=tuple(texts) if texts is not None else None,
        parts=tuple(parts),
        groups=tuple(groups),
    )
