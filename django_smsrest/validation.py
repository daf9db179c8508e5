"""Checking an SMS before it becomes a row: :func:`validate_sms`.

Public through :mod:`django_smsrest.services` (``services.validate_sms``); it lives here only
to keep ``services`` readable. It reads no database and sends nothing.

Every problem is collected before raising, so a form or a command can show them all at
once: the ``ValidationError`` is built from ``{field: [messages]}`` with the fields
``message``, ``recipients``, ``sender``, ``message_type`` and ``scheduled_delivery_time``
(the same names as the arguments, so ``ModelForm``/``Form.add_error(None, exc)`` maps them).
Messages are translatable and written for the person who typed the input.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from phonenumbers import PhoneNumber

from django_smsrest.audience import Audience, check_audience
from django_smsrest.conf import SmsRestSettings, get_settings
from django_smsrest.models import Kind, Purpose
from django_smsrest.personalise import render
from django_smsrest.phone import remembering

if TYPE_CHECKING:
    from django_smsrest.segments import SegmentCount

__all__ = ["Recipients", "SmsOptions", "ValidatedSms", "validate_sms", "validating_many"]

#: What ``recipients`` may be: numbers as one string, an iterable of numbers (text, an
#: ``int``, a ``phonenumbers.PhoneNumber``), or maps for a personalised message.
Recipients = str | Iterable[str | int | PhoneNumber] | Iterable[Mapping[str, Any]] | None

#: GSM TP-OA limits: an alphanumeric sender has at most 11 characters, a numeric one at
#: most 16 (including a leading ``+``).
MAX_ALPHANUMERIC_SENDER = 11
MAX_NUMERIC_SENDER = 16
_NUMERIC_SENDER = re.compile(r"\+?[0-9]+")
# Characters accepted in an alphanumeric sender: what every GSM network passes through.
_SENDER_CHARS = re.compile(r"[A-Za-z0-9 .\-_&]")

_ENCODING_NAMES = {"gsm": _("GSM-7"), "ucs2": _("UCS-2 (Unicode)")}

#: How far ahead a message may be scheduled. The gateway documents no limit; a year keeps
#: typos such as 9999-12-31 (which no date arithmetic survives) out of the outbox.
MAX_SCHEDULE_AHEAD = timedelta(days=366)
# Control characters a text message may carry: line breaks (GSM-7 has LF and CR) and tab.
_ALLOWED_CONTROLS = frozenset("\n\r\t")
# Unicode category Cc (U+0000-U+001F, U+007F-U+009F) less the allowed controls, and Cs
# (U+D800-U+DFFF): one regex scan instead of two category lookups per character (a large
# personalised send checks every rendered text).
_UNSENDABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


# Within ``validating_many()``: the segment count of each text counted so far.
_COUNTS: ContextVar[dict[str, SegmentCount] | None] = ContextVar(
    "smsrest_segment_counts", default=None
)


@contextmanager
def validating_many() -> Iterator[None]:
    """For one call that validates many messages (``queue_many``): within the block, each
    distinct text's segments are counted once and each distinct number is checked once
    (:func:`django_smsrest.phone.remembering`); the rules and the errors are those of
    every call. The memory is the block's, in this context only."""
    token = _COUNTS.set({})
    try:
        with remembering():
            yield
    finally:
        _COUNTS.reset(token)


class SmsOptions(TypedDict, total=False):
    """The optional arguments of an SMS, written once here and shared by
    :func:`validate_sms`, ``send_sms`` and ``queue_sms`` (``**options``).

    ``sender``: ``None`` (the default) means ``DEFAULT_SENDER`` where the message type
    allows a custom sender, ``""`` the account's default. ``message_type``: ``None`` means
    ``DEFAULT_MESSAGE_TYPE``. ``scheduled_delivery_time``: an aware ``datetime`` in the
    future (at most :data:`MAX_SCHEDULE_AHEAD`), or ``None`` to send now. ``groups``:
    names of the provider's contact groups to send to (``POST smstogroups``) instead of
    recipients. ``purpose``: ``"transactional"`` (the default: codes, reminders, notices)
    or ``"marketing"`` (skips suppressed numbers, waits for the end of quiet hours).
    ``campaign_name``: the gateway's ``campaign_name`` field (at most 64 characters).
    """

    sender: str | None
    message_type: str | None
    scheduled_delivery_time: datetime | None
    groups: Sequence[str] | None
    purpose: str | None
    campaign_name: str | None


@dataclass(frozen=True)
class ValidatedSms:
    """An SMS that passed :func:`validate_sms`, with everything the outbox needs.

    ``recipients``: E.164, deduplicated, in first-seen order. ``sender``: resolved (the
    explicit one, else ``DEFAULT_SENDER`` when the type allows one, else ``""``).
    ``segments``: parts per recipient (the longest personalised text's); ``credits``: the
    sum over recipients (for contact groups, per member: the members are not known here);
    ``orders``: how many POSTs the send takes (``MAX_RECIPIENTS_PER_ORDER``).
    """

    message: str
    recipients: tuple[str, ...]
    sender: str
    message_type: str
    scheduled_delivery_time: datetime | None
    encoding: str
    segments: int
    credits: int
    orders: int
    kind: str = Kind.SMS
    #: ``Kind.PARAMS``: each recipient's placeholder values, aligned with ``recipients``.
    params: tuple[dict[str, str], ...] = ()
    #: ``Kind.GROUPS``: the contact group names (``recipients`` is empty).
    groups: tuple[str, ...] = ()
    purpose: str = Purpose.TRANSACTIONAL
    campaign_name: str = ""


def _error(message: Any, code: str, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


def _visible(text: str) -> bool:
    """Whether ``text`` has something a person would see: not only white space and
    invisible format characters (zero-width spaces and joiners, BOM, direction marks)."""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)


def _unsendable_characters(text: str) -> list[str]:
    """Control characters other than line breaks and tab (NUL among them: PostgreSQL
    cannot store it), and lone surrogates (no encoding can carry them), first-seen order."""
    return list(dict.fromkeys(_UNSENDABLE.findall(text)))


def _check_message(
    message: Any, message_type: str | None, conf: SmsRestSettings, *, length: bool = True
) -> tuple[list[ValidationError], str, int]:
    """Errors for the text, plus its encoding and segment count (``"gsm"``, 0 when bad).
    ``length=False``: only what makes a text unusable (a template, checked for length once
    rendered for each recipient)."""

    if not isinstance(message, str):
        return (
            [
                _error(
                    _("The message must be text, not %(type)s."),
                    "message_type",
                    type=type(message).__name__,
                )
            ],
            "gsm",
            0,
        )
    if not _visible(message):
        return [_error(_("The message is empty. Write the text to send."), "empty")], "gsm", 0
    bad = _unsendable_characters(message)
    if bad:
        return (
            [
                _error(
                    _(
                        "The message contains characters that cannot be sent: %(chars)s. "
                        "Remove them (they are often pasted in by mistake)."
                    ),
                    "characters",
                    chars=", ".join(f"U+{ord(ch):04X}" for ch in bad),
                )
            ],
            "gsm",
            0,
        )
    if not length:
        return [], "gsm", 0
    return _check_length(message, message_type, conf)


def _capacity(encoding: str, segments: int) -> int:
    """How many single-unit characters fit in ``segments`` SMS parts of ``encoding``."""
    from django_smsrest.segments import SEGMENT_SIZES

    single, multi = SEGMENT_SIZES[encoding]
    return single if segments <= 1 else segments * multi


def _check_length(
    message: str, message_type: str | None, conf: SmsRestSettings
) -> tuple[list[ValidationError], str, int]:
    """Errors for a text too long for the gateway, ``MAX_SEGMENTS`` or the message type,
    plus its encoding and segment count."""
    from django_smsrest.segments import MAX_CHARS, count_segments, non_gsm_characters

    counts = _COUNTS.get()
    count = None if counts is None else counts.get(message)
    if count is None:
        count = count_segments(message)
        if counts is not None:
            counts[message] = count
    encoding, segments = count.encoding, count.segments
    because = ""
    if encoding == "ucs2":
        shown = ", ".join(f"“{ch}”" for ch in non_gsm_characters(message)[:5])
        because = str(_(" (because of %(chars)s)") % {"chars": shown})
    common = {
        "characters": count.characters,
        "encoding": _ENCODING_NAMES[encoding],
        "because": because,
        "segments": segments,
    }
    # (how many characters the limit allows, the error): a text over several limits gets
    # one error, the tightest limit's, not overlapping ones.
    over: list[tuple[int, ValidationError]] = []
    char_limit = MAX_CHARS[encoding]
    if count.characters > char_limit:
        error = _error(
            _(
                "The message is too long: %(characters)d characters in "
                "%(encoding)s%(because)s, %(segments)d SMS segments. The gateway accepts "
                "at most %(limit)d characters in %(encoding)s."
            ),
            "too_long_characters",
            limit=char_limit,
            **common,
        )
        over.append((char_limit, error))
    if segments > conf.max_segments:
        error = _error(
            _(
                "The message is too long: %(characters)d characters in "
                "%(encoding)s%(because)s make %(segments)d SMS segments, and at most "
                "%(limit)d segments are allowed (SMSREST['MAX_SEGMENTS'])."
            ),
            "too_long_segments",
            limit=conf.max_segments,
            **common,
        )
        over.append((_capacity(encoding, conf.max_segments), error))
    mtype = conf.message_types.get(message_type or "")
    if mtype is not None and mtype.max_segments is not None and segments > mtype.max_segments:
        error = _error(
            ngettext_lazy(
                "The message is too long for message type %(type)s: %(characters)d "
                "characters in %(encoding)s%(because)s make %(segments)d SMS segments, "
                "and this type allows only %(limit)d segment.",
                "The message is too long for message type %(type)s: %(characters)d "
                "characters in %(encoding)s%(because)s make %(segments)d SMS segments, "
                "and this type allows only %(limit)d segments.",
                "limit",
            ),
            "too_long_for_type",
            limit=mtype.max_segments,
            type=mtype.code,
            **common,
        )
        over.append((_capacity(encoding, mtype.max_segments), error))
    errors = [min(over, key=lambda limit_error: limit_error[0])[1]] if over else []
    return errors, encoding, segments


def _known_types(conf: SmsRestSettings) -> str:
    return ", ".join(f"{t.code} ({t.verbose_label})" for t in conf.message_types.values())


def _check_sender(
    sender: str | None, message_type: str | None, conf: SmsRestSettings
) -> tuple[list[ValidationError], str]:
    mtype = conf.message_types.get(message_type or "")
    if sender is None:
        # The default sender applies only where the type allows a custom one; an explicit
        # sender for such a type is an error below, a configured default is not.
        return [], conf.default_sender if mtype is None or mtype.custom_sender else ""
    if not isinstance(sender, str):
        return [_error(_("The sender must be text."), "sender_type")], ""
    sender = sender.strip()
    if not sender:
        return [], ""
    errors: list[ValidationError] = []
    if mtype is not None and not mtype.custom_sender:
        allowing = ", ".join(t.code for t in conf.message_types.values() if t.custom_sender)
        errors.append(
            _error(
                _(
                    "Message type %(type)s does not allow a custom sender: leave the sender "
                    "empty, or choose a type that allows one (%(types)s)."
                ),
                "sender_not_allowed",
                type=mtype.code,
                types=allowing,
            )
        )
    if _NUMERIC_SENDER.fullmatch(sender):
        if len(sender) > MAX_NUMERIC_SENDER:
            errors.append(
                _error(
                    _(
                        "The numeric sender “%(sender)s” is too long: %(length)d characters, "
                        "at most %(limit)d are allowed."
                    ),
                    "sender_too_long",
                    sender=sender,
                    length=len(sender),
                    limit=MAX_NUMERIC_SENDER,
                )
            )
        return errors, sender
    bad = list(dict.fromkeys(ch for ch in sender if not _SENDER_CHARS.fullmatch(ch)))
    if bad:
        errors.append(
            _error(
                _(
                    "The sender “%(sender)s” contains characters that cannot be used: "
                    "%(chars)s. Use letters A-Z, digits, spaces, “.”, “-”, “_” or “&” "
                    "(or a phone number such as +393471234567)."
                ),
                "sender_characters",
                sender=sender,
                chars=", ".join(f"“{ch}”" for ch in bad),
            )
        )
    if len(sender) > MAX_ALPHANUMERIC_SENDER:
        errors.append(
            _error(
                _(
                    "The sender “%(sender)s” is too long: %(length)d characters, at most "
                    "%(limit)d are allowed for a name (up to %(numeric)d for a number)."
                ),
                "sender_too_long",
                sender=sender,
                length=len(sender),
                limit=MAX_ALPHANUMERIC_SENDER,
                numeric=MAX_NUMERIC_SENDER,
            )
        )
    return errors, sender


def _check_schedule(when: Any, now: datetime) -> list[ValidationError]:
    if when is None:
        return []
    if not isinstance(when, datetime):
        return [_error(_("The scheduled delivery time must be a date and time."), "schedule_type")]
    if timezone.is_naive(when):
        return [
            _error(
                _(
                    "The scheduled delivery time %(time)s has no time zone, so it is "
                    "ambiguous. Give an aware date and time (for example with "
                    "django.utils.timezone.make_aware)."
                ),
                "schedule_naive",
                time=when.isoformat(sep=" ", timespec="minutes"),
            )
        ]
    if timezone.is_naive(now):
        # USE_TZ = False (``manage.py check`` reports it as django_smsrest.E010): an aware
        # time cannot be compared with a naive now; say why instead of a bare TypeError.
        raise ImproperlyConfigured(
            "django_smsrest needs USE_TZ = True to schedule messages (see the system check "
            "django_smsrest.E010)."
        )
    try:
        too_far = when - now > MAX_SCHEDULE_AHEAD
    except OverflowError:  # e.g. 9999-12-31T20:00-12:00 is past year 9999 in UTC
        too_far = True
    if too_far:
        return [
            _error(
                _(
                    "The scheduled delivery time %(time)s is too far ahead: a message can "
                    "be scheduled at most %(days)d days from now."
                ),
                "schedule_too_far",
                time=when.isoformat(sep=" ", timespec="minutes"),
                days=MAX_SCHEDULE_AHEAD.days,
            )
        ]
    if when <= now:
        return [
            _error(
                _(
                    "The scheduled delivery time %(time)s is in the past. Choose a later "
                    "time, or leave it empty to send now."
                ),
                "schedule_past",
                time=formats.localize(timezone.localtime(when)),
            )
        ]
    return []


def validate_sms(
    message: str,
    recipients: str
    | Iterable[str | int | PhoneNumber]
    | Iterable[Mapping[str, Any]]
    | None = None,
    *,
    conf: SmsRestSettings | None = None,
    **options: Unpack[SmsOptions],
) -> ValidatedSms:
    """Check an SMS and resolve its defaults; raise ``ValidationError`` listing every problem.

    ``recipients``: one string (numbers separated by commas, semicolons or newlines), an
    iterable of numbers (text, or an ``int`` for a bare number), or an iterable of maps
    ``{"recipient": number, "name": value}`` for a personalised message whose text uses
    ``${name}`` (every placeholder needs a value for every recipient, and a value the text
    does not use is refused); national numbers need ``SMSREST['DEFAULT_REGION']``.
    ``options``: see :class:`SmsOptions` (``groups`` instead of recipients).
    """
    conf = conf or get_settings()
    sender = options.get("sender")
    message_type = options.get("message_type")
    scheduled_delivery_time = options.get("scheduled_delivery_time")
    errors: dict[str, list[ValidationError]] = {}

    type_code = message_type if message_type not in (None, "") else conf.default_message_type
    if not isinstance(type_code, str):
        errors["message_type"] = [
            _error(
                _("The message type must be a type code such as %(known)s."),
                "type_type",
                known=_known_types(conf),
            )
        ]
        type_code = conf.default_message_type  # check the rest against the default
    elif type_code not in conf.message_types:
        errors["message_type"] = [
            _error(
                _("Unknown message type “%(type)s”. The types for %(brand)s are: %(known)s."),
                "unknown_type",
                type=type_code,
                brand=conf.brand.label,
                known=_known_types(conf),
            )
        ]

    found, audience = check_audience(recipients, options.get("groups"), message, conf)
    personalised = audience.kind == Kind.PARAMS
    text_errors, encoding, segments = _check_message(
        message, type_code, conf, length=not personalised
    )
    credits = segments * len(audience.numbers)
    if personalised and not text_errors and audience.numbers:
        text_errors, encoding, segments, credits = _check_personalised(
            message, audience, type_code, conf
        )
    sender_errors, resolved_sender = _check_sender(sender, type_code, conf)
    schedule_errors = _check_schedule(scheduled_delivery_time, timezone.now())
    purpose, purpose_errors = _check_purpose(options.get("purpose"))
    campaign, campaign_errors = _check_campaign(options.get("campaign_name"))
    found.setdefault("message", [])[:0] = text_errors
    for name, errs in (
        *found.items(),
        ("sender", sender_errors),
        ("scheduled_delivery_time", schedule_errors),
        ("purpose", purpose_errors),
        ("campaign_name", campaign_errors),
    ):
        if errs:
            errors[name] = errs
    if errors:
        raise ValidationError(errors)

    return ValidatedSms(
        message=message,
        recipients=audience.numbers,
        sender=resolved_sender,
        message_type=type_code,
        scheduled_delivery_time=scheduled_delivery_time,
        encoding=encoding,
        segments=segments,
        credits=credits if audience.kind != Kind.GROUPS else segments,
        orders=max(1, math.ceil(len(audience.numbers) / conf.max_recipients_per_order)),
        kind=audience.kind,
        params=audience.params,
        groups=audience.groups,
        purpose=purpose,
        campaign_name=campaign,
    )


#: Longest ``campaign_name`` accepted (the gateway documents none; the column's size).
MAX_CAMPAIGN_NAME = 64


def _check_purpose(purpose: Any) -> tuple[str, list[ValidationError]]:
    if purpose in (None, ""):
        return Purpose.TRANSACTIONAL, []
    if purpose not in Purpose.values:
        return Purpose.TRANSACTIONAL, [
            _error(
                _("Unknown purpose “%(purpose)s”: use “transactional” or “marketing”."),
                "unknown_purpose",
                purpose=str(purpose)[:40],
            )
        ]
    return str(purpose), []


def _check_campaign(name: Any) -> tuple[str, list[ValidationError]]:
    if name is None:
        return "", []
    if not isinstance(name, str) or len(name.strip()) > MAX_CAMPAIGN_NAME:
        return "", [
            _error(
                _("The campaign name must be text of at most %(max)d characters."),
                "campaign_name",
                max=MAX_CAMPAIGN_NAME,
            )
        ]
    return name.strip(), []


def _check_personalised(
    template: str, audience: Audience, message_type: str, conf: SmsRestSettings
) -> tuple[list[ValidationError], str, int, int]:
    """Render every recipient's text: errors for the first that cannot be sent or is too
    long (naming its number), the encoding (UCS-2 if any text needs it), the most
    segments of any text, and the credits (the sum over recipients)."""
    encoding, worst, credits = "gsm", 0, 0
    for number, values in zip(audience.numbers, audience.params, strict=True):
        text = render(template, values)
        # One segment count per text: _check_message's own (it was counted twice).
        errors, text_encoding, segments = _check_message(text, message_type, conf)
        if errors:
            lead = _error(
                _("The text for %(number)s, “%(text)s”, cannot be sent:"),
                "personalised_text",
                number=number,
                text=text[:60] + ("…" if len(text) > 60 else ""),
            )
            return [lead, *errors], "gsm", 0, 0
        encoding = "ucs2" if text_encoding == "ucs2" else encoding
        worst = max(worst, segments)
        credits += segments
    return [], encoding, worst, credits
