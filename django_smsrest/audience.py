"""Who a message goes to, checked: plain numbers, personalised recipients (one map of
``${placeholder}`` values per number, for ``POST paramsms``) or the provider's contact
groups (``POST smstogroups``). Part of :func:`django_smsrest.validation.validate_sms`; it
reads no database and sends nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from django_smsrest.conf import SmsRestSettings
from django_smsrest.models import Kind
from django_smsrest.personalise import placeholders

__all__ = ["Audience", "check_audience"]

#: Longest contact group name accepted (the gateway documents none; its panel's limit).
MAX_GROUP_NAME = 100

_PHONE_MESSAGES = {
    "empty": _("An empty phone number was given."),
    "characters": _(
        "“%(number)s” contains characters that are not part of a phone number "
        "(only digits, “+”, spaces, dashes, dots and parentheses are allowed)."
    ),
    "extension": _("“%(number)s” has an extension; an SMS cannot be sent to an extension."),
    "no_country_code": _(
        "“%(number)s” has no country code. Write it in international format (+39 …), "
        "or set SMSREST['DEFAULT_REGION'] to read national numbers."
    ),
    "country_code": _("“%(number)s” has an unknown country code."),
    "too_short": _("“%(number)s” is too short to be a phone number."),
    "too_long": _("“%(number)s” is too long to be a phone number."),
    "not_a_number": _("“%(number)s” is not a phone number."),
    "invalid": _("“%(number)s” is not a valid phone number."),
}


@dataclass(frozen=True)
class Audience:
    """The checked recipients of a message: ``numbers`` in E.164 (first-seen order, each
    once), ``params`` the values of each number (``Kind.PARAMS`` only, aligned with
    ``numbers``), ``groups`` the contact group names (``Kind.GROUPS`` only)."""

    kind: str = Kind.SMS
    numbers: tuple[str, ...] = ()
    params: tuple[dict[str, str], ...] = ()
    groups: tuple[str, ...] = field(default=())


def _error(message: Any, code: str, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


def check_audience(
    recipients: Any, groups: Any, template: Any, conf: SmsRestSettings
) -> tuple[dict[str, list[ValidationError]], Audience]:
    """Errors by field (``recipients``, ``groups``, ``message``) and the audience.

    ``recipients``: one string (numbers separated by commas, semicolons or newlines), an
    iterable of numbers (text, or an ``int`` for a bare number), or an iterable of maps
    ``{"recipient": number, "name": value, ...}`` for a personalised message whose
    ``template`` uses ``${name}``. Maps and plain numbers are not mixed in one message.
    ``groups``: contact group names, instead of recipients.
    """
    if groups is not None and groups != []:
        return _check_groups(recipients, groups)
    items = recipients
    if isinstance(recipients, Mapping):  # one personalised recipient
        items = [recipients]
    elif not isinstance(recipients, str) and isinstance(recipients, Iterable):
        items = list(recipients)
    if isinstance(items, list) and any(isinstance(item, Mapping) for item in items):
        return _check_maps(items, template, conf)
    errors, numbers = _check_numbers(items, conf)
    found: dict[str, list[ValidationError]] = {"recipients": errors} if errors else {}
    names = placeholders(template) if isinstance(template, str) else []
    if names:
        found["message"] = [
            _error(
                _(
                    "The message has placeholders (%(names)s) but the recipients carry no "
                    "values for them. Give each recipient as a map, e.g. "
                    '{"recipient": "+393471234567", "%(first)s": "…"}.'
                ),
                "placeholders_without_values",
                names=", ".join(f"${{{n}}}" for n in names),
                first=names[0],
            )
        ]
    return found, Audience(numbers=tuple(numbers))


def _check_numbers(
    recipients: Any, conf: SmsRestSettings
) -> tuple[list[ValidationError], list[str]]:
    from django_smsrest.phone import normalize_many

    if isinstance(recipients, str):  # one string: numbers separated by , ; or newlines
        numbers, invalid = normalize_many(recipients, conf.default_region)
        return _phone_errors(invalid, numbers, []), numbers
    items: list[Any]
    if recipients is None:
        items = []
    elif isinstance(recipients, Iterable):
        items = list(recipients)
    else:
        items = [recipients]
    raws: list[str] = []
    errors: list[ValidationError] = []
    for item in items:
        text = _number_text(item)
        if text is None:
            errors.append(_not_a_number(item))
        else:
            raws.append(text)
    numbers, invalid = normalize_many(raws, conf.default_region)
    return _phone_errors(invalid, numbers, errors), numbers


def _number_text(item: Any) -> str | None:
    """A number as text: a ``str`` as it is, an ``int`` as its digits, a
    ``phonenumbers.PhoneNumber`` (django-phonenumber-field's too) by
    :func:`~django_smsrest.phone.number_text`; ``None`` for anything else (a float:
    ``393471234567.0`` would become ``+3934712345670``)."""
    import phonenumbers

    from django_smsrest.phone import number_text

    if isinstance(item, str):
        return item
    if isinstance(item, phonenumbers.PhoneNumber):
        return number_text(item)
    if isinstance(item, int) and not isinstance(item, bool):
        return str(item)
    return None


def _not_a_number(item: Any) -> ValidationError:
    return _error(
        _(
            "“%(number)s” is a %(type)s, not a phone number. Give phone numbers "
            'as text ("+393471234567").'
        ),
        "phone_type",
        number=repr(item),
        type=type(item).__name__,
    )


def _phone_errors(
    invalid: list[Any], numbers: list[str], errors: list[ValidationError]
) -> list[ValidationError]:
    errors = errors + [
        _error(
            _PHONE_MESSAGES.get(exc.code, _PHONE_MESSAGES["invalid"]),
            f"phone_{exc.code}",
            number=exc.raw.strip(),
        )
        for exc in invalid
    ]
    if not numbers and not errors:
        errors.append(_error(_("Add at least one recipient."), "no_recipients"))
    return errors


def _check_maps(
    items: list[Any], template: Any, conf: SmsRestSettings
) -> tuple[dict[str, list[ValidationError]], Audience]:
    """Personalised recipients: every item a map with a number and exactly the values the
    template's placeholders need (a value the text does not use is refused too: it is
    almost always a typo in a column or a placeholder name)."""
    from django_smsrest.phone import InvalidPhoneNumber, normalize

    errors: list[ValidationError] = []
    needed = set(placeholders(template)) if isinstance(template, str) else set()
    numbers: list[str] = []
    seen: set[str] = set()  # the membership test per recipient: a list made it quadratic
    params: list[dict[str, str]] = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            errors.append(
                _error(
                    _(
                        "Recipient %(n)d is %(value)s, but the others are maps: give every "
                        "recipient as a map with a “recipient” number, or none."
                    ),
                    "mixed_recipients",
                    n=position,
                    value=repr(item)[:40],
                )
            )
            continue
        raw = _number_text(item.get("recipient"))
        if raw is None:
            errors.append(
                _error(_("Recipient %(n)d has no “recipient” number."), "no_number", n=position)
            )
            continue
        try:
            number = normalize(raw, conf.default_region)
        except InvalidPhoneNumber as exc:
            errors.append(
                _error(
                    _PHONE_MESSAGES.get(exc.code, _PHONE_MESSAGES["invalid"]),
                    f"phone_{exc.code}",
                    number=raw.strip(),
                )
            )
            continue
        values = {str(k): v for k, v in item.items() if k != "recipient"}
        if (
            values.keys() == needed
            and number not in seen
            and all(type(v) is str for v in values.values())
        ):
            # The common case, without the sets and lists that name a problem: a large
            # audience is one map per recipient, and each object allocated here adds to
            # the garbage collector's passes over all of them.
            seen.add(number)
            numbers.append(number)
            params.append(values)
            continue
        bad = sorted(k for k, v in values.items() if _number_text(v) is None)
        missing = sorted(needed - set(values))
        unused = sorted(set(values) - needed)
        if bad or missing or unused or number in seen:
            errors.append(_map_error(number, bad, missing, unused, number in seen))
            continue
        seen.add(number)
        numbers.append(number)
        params.append({k: str(v) for k, v in values.items()})
    if not items:
        errors.append(_error(_("Add at least one recipient."), "no_recipients"))
    found = {"recipients": errors[:20]} if errors else {}
    return found, Audience(kind=Kind.PARAMS, numbers=tuple(numbers), params=tuple(params))


def _map_error(
    number: str, bad: list[str], missing: list[str], unused: list[str], repeated: bool
) -> ValidationError:
    if repeated:
        return _error(_("%(number)s appears twice."), "duplicate", number=number)
    if bad:
        return _error(
            _("%(number)s: the values of %(names)s must be text."),
            "param_type",
            number=number,
            names=", ".join(bad),
        )
    if missing:
        return _error(
            _("%(number)s has no value for %(names)s, which the message uses."),
            "param_missing",
            number=number,
            names=", ".join(f"${{{n}}}" for n in missing),
        )
    return _error(
        _(
            "%(number)s has values for %(names)s, which the message does not use: "
            "remove them or add the placeholders to the text."
        ),
        "param_unused",
        number=number,
        names=", ".join(unused),
    )


def _check_groups(
    recipients: Any, groups: Any
) -> tuple[dict[str, list[ValidationError]], Audience]:
    errors: dict[str, list[ValidationError]] = {}
    if recipients not in (None, "", [], ()):
        errors["recipients"] = [
            _error(_("Give recipients or contact groups, not both."), "recipients_and_groups")
        ]
    names = [groups] if isinstance(groups, str) else groups
    if not isinstance(names, Iterable) or not all(
        isinstance(name, str) and name.strip() and len(name.strip()) <= MAX_GROUP_NAME
        for name in names
    ):
        errors["groups"] = [
            _error(
                _(
                    "Contact groups must be a list of group names (text, at most %(max)d "
                    "characters each)."
                ),
                "group_names",
                max=MAX_GROUP_NAME,
            )
        ]
        return errors, Audience(kind=Kind.GROUPS)
    for position, name in enumerate(names, start=1):
        bad = _bad_name_characters(name)
        if bad:
            # The name itself is not echoed: it is unprintable (a lone surrogate cannot
            # even be written to a terminal or a log).
            errors["groups"] = [
                _error(
                    _(
                        "Contact group %(position)d contains characters that cannot be sent: "
                        "%(chars)s. Remove them (they are often pasted in by mistake)."
                    ),
                    "group_characters",
                    position=position,
                    chars=", ".join(f"U+{ord(ch):04X}" for ch in bad),
                )
            ]
            return errors, Audience(kind=Kind.GROUPS)
    cleaned = tuple(dict.fromkeys(name.strip() for name in names))
    return errors, Audience(kind=Kind.GROUPS, groups=cleaned)


def _bad_name_characters(name: str) -> list[str]:
    """Control characters (NUL, escape, line breaks, tab: a group name is one line) and
    lone surrogates (no encoding can carry them to the gateway or the database)."""
    bad = (ch for ch in name if unicodedata.category(ch) in ("Cc", "Cs"))
    return list(dict.fromkeys(bad))
