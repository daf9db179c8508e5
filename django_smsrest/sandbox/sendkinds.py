"""Recipients of ``POST paramsms`` and ``POST smstogroups`` (reference §3 and §3b).

``paramsms`` replaces ``recipient`` by ``recipients``: one parameter map per recipient,
holding the number under ``recipient`` plus one value per ``${name}`` placeholder of the
message. Clients send it two ways, both accepted here: a JSON array of objects
(``[{"recipient": "+39...", "name": "Ada"}]``, skebby-sdk) or an object keyed ``"0"``,
``"1"``, ... (PHP's ``JSON_FORCE_OBJECT``). Each personalised text is checked on its own
(the documentation: a personalised text over the limit is an error). A placeholder with no
value for some recipient is a 400 here: the documentation does not say what the gateway
does (the sandbox's choice, so that a client's typo shows).

``smstogroups`` takes ``recipient`` as a list of contact-group names; the sandbox's groups
come from ``--group NAME=+39...,+39...`` or the ``groups`` option. An unknown group is a
400 naming it (documented, E14). A number in several groups is sent once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django_smsrest.sandbox.config import RECIPIENT_RE, SandboxConfig
from django_smsrest.sandbox.replies import ApiError

PLACEHOLDER_RE = re.compile(r"\$\{([^}]*)\}")


def _param_maps(body: dict[str, Any]) -> list[Any]:
    recipients = body.get("recipients")
    if recipients is None:
        raise ApiError(
            'recipients is missing: give one map per recipient, e.g. [{"recipient": '
            '"+393471234567", "name": "Ada"}].',
            "MISSING_FIELD",
        )
    if isinstance(recipients, Mapping):
        recipients = list(recipients.values())
    if not isinstance(recipients, list) or not recipients:
        raise ApiError(
            'recipients must be a non-empty list (or an object keyed "0", "1", ...) of '
            'maps such as {"recipient": "+393471234567", "name": "Ada"}.',
            "NO_RECIPIENTS",
        )
    return recipients


def substitute(template: str, params: Mapping[str, Any], number: str) -> str:
    """``template`` with each ``${name}`` replaced by ``params[name]``; 400 if one lacks."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params or isinstance(params[name], dict | list):
            raise ApiError(
                f"The message uses ${{{name}}} but the parameters of recipient {number} "
                f"have no text value for {name!r}.",
                "MISSING_PARAMETER",
            )
        found = params[name]
        return "" if found is None else str(found)

    return PLACEHOLDER_RE.sub(value, template)


def param_recipients(
    body: dict[str, Any], config: SandboxConfig, allow_invalid: bool, template: str
) -> tuple[list[str], list[str], list[str]]:
    """(valid numbers, dropped numbers, personalised texts in the numbers' order)."""
    maps = _param_maps(body)
    if len(maps) > config.max_recipients:
        raise ApiError(
            f"Too many recipients: {len(maps)} in one request, the limit is "
            f"{config.max_recipients}. Split them into several orders.",
            "TOO_MANY_RECIPIENTS",
        )
    numbers: list[str] = []
    dropped: list[str] = []
    texts: list[str] = []
    for index, params in enumerate(maps):
        number = params.get("recipient") if isinstance(params, Mapping) else None
        if not isinstance(number, str) or not RECIPIENT_RE.fullmatch(number):
            if allow_invalid:
                dropped.append(str(number if number is not None else params))
                continue
            raise ApiError(
                f"recipients[{index}] needs a 'recipient' that is a valid international "
                f"number ('+' or '00', country code and number, e.g. +393471234567), not "
                f"{number!r}. Set allowInvalidRecipients to true to skip invalid ones.",
                "INVALID_RECIPIENT",
            )
        numbers.append(number)
        texts.append(substitute(template, params, number))
    if not numbers:
        raise ApiError(
            "None of the recipients is a valid international number (e.g. +393471234567).",
            "NO_RECIPIENTS",
        )
    return numbers, dropped, texts


def group_recipients(body: dict[str, Any], config: SandboxConfig) -> tuple[list[str], list[str]]:
    """(the numbers of the named groups, each once, the group names) for smstogroups."""
    names = body.get("recipient")
    if names is None:
        raise ApiError(
            'recipient is missing: give a list of contact-group names, e.g. ["clienti"].',
            "MISSING_FIELD",
        )
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(name, str) and name for name in names)
    ):
        raise ApiError(
            'recipient must be a non-empty list of contact-group names, e.g. ["clienti"].',
            "NO_RECIPIENTS",
        )
    unknown = [name for name in names if name not in config.groups]
    if unknown:
        known = ", ".join(sorted(config.groups)) or "none are configured"
        raise ApiError(
            f"Group(s) not found: {', '.join(repr(n) for n in unknown)} (known: {known}).",
            "GROUP_NOT_FOUND",
        )
    numbers = list(dict.fromkeys(n for name in names for n in config.groups[name]))
    if not numbers:
        raise ApiError(
            f"The group(s) {', '.join(names)} have no members: there is nobody to send to.",
            "NO_RECIPIENTS",
        )
    if len(numbers) > config.max_recipients:
        raise ApiError(
            f"Too many recipients: the groups hold {len(numbers)} numbers, the limit is "
            f"{config.max_recipients}.",
            "TOO_MANY_RECIPIENTS",
        )
    return numbers, list(names)


__all__ = ["PLACEHOLDER_RE", "group_recipients", "param_recipients", "substitute"]
