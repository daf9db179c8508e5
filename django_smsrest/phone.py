"""Parse, validate and normalise phone numbers to E.164 with ``phonenumbers``.

Plain Python (no Django import), so the client, the sandbox and the forms share one rule.
Callers pass the region explicitly (typically ``get_settings().default_region``); nothing here
reads settings.

Contract:

* :func:`normalize` returns an E.164 string (``"+393471234567"``) or raises
  :class:`InvalidPhoneNumber`, whose message can be shown to the person who typed the number.
* A number is accepted only if ``phonenumbers.is_valid_number`` says so (a length check such
  as ``is_possible_number`` lets ``+39 123`` through).
* Formatting characters (spaces, dashes, dots, parentheses, slashes) are ignored; letters
  (vanity numbers like ``1-800-FLOWERS``, or ``Tel:`` prefixes), other symbols and extensions
  are rejected: an SMS cannot be sent to an extension, and silently turning letters into
  digits would text a number nobody typed.
* ``+`` and the ``00`` international prefix always work; a national number (``347 123 4567``)
  only with a region.
* A ``phonenumbers.PhoneNumber`` (and so django-phonenumber-field's subclass, what a
  ``PhoneNumberField`` returns) is accepted wherever text is, and checked by the same rules
  (:func:`number_text`): a project passes ``user.phone`` as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

__all__ = ["InvalidPhoneNumber", "normalize", "normalize_many", "number_text", "remembering"]

# Characters people use to format a number. Anything else (letters, '#', '*', ',', ...) is an
# error. \d also matches non-ASCII digits (e.g. full-width), which phonenumbers normalises.
_FORMATTING_OK: Final = re.compile(r"[\d\s+\-.()/]*")
# Separators accepted between numbers in one string (form textareas, CSV-ish input).
_LIST_SEPARATORS: Final = re.compile(r"[,;\r\n]+")
# Leading "00" international prefix once formatting is ignored ("00 39 ...", "(0039) ...").
_DOUBLE_ZERO: Final = re.compile(r"^[\s\-.()/]*00")


class InvalidPhoneNumber(ValueError):
    """A phone number that cannot be used; ``str(exc)`` is a message for humans.

    Attributes: ``raw`` (the input exactly as given), ``message`` (same as ``str(exc)``) and
    ``code``, a stable machine-readable reason for forms and translations: ``"empty"``,
    ``"characters"``, ``"extension"``, ``"no_country_code"``, ``"country_code"``,
    ``"too_short"``, ``"too_long"``, ``"not_a_number"`` or ``"invalid"``.
    """

    def __init__(self, raw: str, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.raw = raw
        self.message = message
        self.code = code

    def __reduce__(self) -> tuple[type[InvalidPhoneNumber], tuple[str, str, str]]:
        # Keep the extra attributes when pickled (e.g. returned from a task).
        return (type(self), (self.raw, self.message, self.code))


def _check_region(region: str | None) -> str | None:
    """Normalise a region code; an unknown one is a configuration error, not bad input."""
    if region is None or region == "":
        return None
    upper = region.upper()
    if upper not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"unknown region {region!r}: expected an ISO 3166-1 alpha-2 code such as 'IT' "
            "(check SMSREST['DEFAULT_REGION'])"
        )
    return upper


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber:
    """``phonenumbers.parse`` plus a universal ``00`` prefix.

    Without a region, phonenumbers cannot know the international prefix, so ``00`` is
    rewritten to ``+``. With a region, the region's own prefix is tried first (``0011`` in
    Australia, ``011`` in the US); if that does not give a valid number and the text starts
    with ``00``, it is retried as ``+``. No region uses ``00`` as the start of a national
    number, so the retry cannot change the meaning of a valid one.
    """
    as_plus = _DOUBLE_ZERO.sub("+", text, count=1) if _DOUBLE_ZERO.match(text) else None
    if region is None:
        return phonenumbers.parse(as_plus or text, None)
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        if as_plus is None:
            raise
        return phonenumbers.parse(as_plus, None)
    if as_plus is not None and not phonenumbers.is_valid_number(number):
        try:
            retried = phonenumbers.parse(as_plus, None)
        except NumberParseException:
            return number
        if phonenumbers.is_valid_number(retried):
            return retried
    return number


def _parse_error(
    raw: str, text: str, region: str | None, exc: NumberParseException
) -> InvalidPhoneNumber:
    """Map a phonenumbers parse failure to an error a person can act on."""
    kind = exc.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        if region is None and not text.startswith("+"):
            return InvalidPhoneNumber(
                raw,
                f"{text!r} has no country code; write it as +39... (the international "
                "format) or set SMSREST['DEFAULT_REGION']",
                "no_country_code",
            )
        return InvalidPhoneNumber(raw, f"{text!r} has an unknown country code", "country_code")
    if kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return InvalidPhoneNumber(raw, f"{text!r} is too short to be a phone number", "too_short")
    if kind == NumberParseException.TOO_LONG:
        return InvalidPhoneNumber(raw, f"{text!r} is too long to be a phone number", "too_long")
    return InvalidPhoneNumber(raw, f"{text!r} is not a phone number", "not_a_number")


def number_text(number: phonenumbers.PhoneNumber) -> str:
    """A ``phonenumbers.PhoneNumber`` as the text :func:`normalize` checks: ``+`` country
    code and national number (with `` ext. N`` when it has an extension, so that it is
    refused like a typed one), or, for one without a number, its ``raw_input``
    (django-phonenumber-field keeps a stored value it could not parse that way)."""
    if number.country_code and number.national_number is not None:
        text = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        if number.extension:
            text += f" ext. {number.extension}"
        return text
    return number.raw_input or ""


# Within ``remembering()``: each (text, region) checked so far, with its E.164 number or
# the error it raised. Per block and per context (thread, task), never process-wide.
_REMEMBERED: ContextVar[dict[tuple[str, str | None], str | InvalidPhoneNumber] | None] = (
    ContextVar("smsrest_phone_remembered", default=None)
)


@contextmanager
def remembering() -> Iterator[None]:
    """Within the block, :func:`normalize` checks each distinct (text, region) once and
    answers a repeat from memory: the same number, or a new :class:`InvalidPhoneNumber`
    with the same ``raw``, message and code. For one call that validates many messages
    (``queue_many``) sent to the same numbers; the memory ends with the block."""
    token = _REMEMBERED.set({})
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def normalize(raw: str | phonenumbers.PhoneNumber, region: str | None = None) -> str:
    """Return ``raw`` as an E.164 string, e.g. ``"+393471234567"``.

    ``raw``: text, or a ``phonenumbers.PhoneNumber`` (read by :func:`number_text`).
    ``region``: ISO 3166-1 alpha-2 code (``"IT"``) used for numbers written without a country
    code; ``None`` means such numbers are rejected. An unknown region raises a plain
    :class:`ValueError` (a configuration error); every problem with ``raw`` itself raises
    :class:`InvalidPhoneNumber`.
    """
    if isinstance(raw, phonenumbers.PhoneNumber):
        raw = number_text(raw)
    if not isinstance(raw, str):
        raise TypeError(f"phone number must be a str, got {type(raw).__name__}")
    region = _check_region(region)
    remembered = _REMEMBERED.get()
    if remembered is None:
        return _normalize(raw, region)
    key = (raw, region)
    outcome = remembered.get(key)
    if outcome is None:
        try:
            outcome = remembered[key] = _normalize(raw, region)
        except InvalidPhoneNumber as exc:
            remembered[key] = exc
            raise
    if isinstance(outcome, InvalidPhoneNumber):
        # A new exception: one instance raised twice would chain the two tracebacks.
        raise InvalidPhoneNumber(outcome.raw, outcome.message, outcome.code)
    return outcome


def _normalize(raw: str, region: str | None) -> str:
    """:func:`normalize` of text, the region checked."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "the phone number is empty", "empty")
    try:
        number = _parse(text, region)
    except NumberParseException as exc:
        raise _parse_error(raw, text, region, exc) from None
    # Checked after parsing so that "+39 347 1234567 ext. 5" gets the precise message.
    if number.extension:
        raise InvalidPhoneNumber(
            raw, f"{text!r} has an extension; an SMS cannot be sent to an extension", "extension"
        )
    if not _FORMATTING_OK.fullmatch(text) or "+" in text[1:]:
        raise InvalidPhoneNumber(
            raw,
            f"{text!r} contains characters that are not part of a phone number "
            "(only digits, '+', spaces, dashes, dots and parentheses are allowed)",
            "characters",
        )
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(raw, f"{text!r} is not a valid phone number", "invalid")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _split(raws: Iterable[str | phonenumbers.PhoneNumber] | str) -> list[str]:
    if isinstance(raws, str):
        # Surrounding spaces are an artefact of the separators ("a, b"), not of the number.
        pieces: Iterable[str] = (piece.strip() for piece in _LIST_SEPARATORS.split(raws))
    else:
        pieces = (
            number_text(raw) if isinstance(raw, phonenumbers.PhoneNumber) else raw for raw in raws
        )
    # Blank entries (a trailing comma, an empty form row) are not numbers anybody typed.
    return [piece for piece in pieces if not (isinstance(piece, str) and not piece.strip())]


def normalize_many(
    raws: Iterable[str | phonenumbers.PhoneNumber] | str, region: str | None = None
) -> tuple[list[str], list[InvalidPhoneNumber]]:
    """Normalise several numbers at once, collecting every error instead of stopping.

    ``raws``: an iterable of strings or ``phonenumbers.PhoneNumber`` (one number each), or
    one string with numbers separated by commas, semicolons or newlines. Blank entries are
    skipped.

    Returns ``(numbers, errors)``: the valid numbers in E.164, de-duplicated in first-seen
    order (``"347 123 4567"`` and ``"+39 347 1234567"`` with region ``IT`` are one number),
    and one :class:`InvalidPhoneNumber` per invalid entry, in input order. An empty
    ``numbers`` list is not an error here; the caller decides.
    """
    region = _check_region(region)  # fail once, loudly, on a bad setting
    numbers: dict[str, None] = {}
    errors: list[InvalidPhoneNumber] = []
    for raw in _split(raws):
        try:
            numbers.setdefault(normalize(raw, region), None)
        except InvalidPhoneNumber as exc:
            errors.append(exc)
    return list(numbers), errors
