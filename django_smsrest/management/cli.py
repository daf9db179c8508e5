"""The ``send_sms`` command's input side: exit statuses and how arguments are read.

Kept apart from the command class so that the command is only options and dispatch, and
so that these rules can be tested without running a command.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

#: Exit status for bad arguments / invalid input / configuration (argparse uses it too).
EXIT_USAGE = 2
#: Exit status when a message failed or the gateway could not be reached.
EXIT_FAILED = 1


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


def parse_when(value: str) -> datetime:
    """An ISO 8601 date-time; a naive one is read in the project's ``TIME_ZONE``.

    Accepts ``2030-01-31T09:30``, ``2030-01-31 09:30:00``, ``2030-01-31T09:30+01:00`` and
    ``...Z``. Raises ``CommandError`` (exit 2) with the accepted forms otherwise.
    """
    text = value.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise usage_error(
            _(
                "--at %(value)s is not an ISO 8601 date-time; use e.g. 2030-01-31T09:30 "
                "(project time zone) or 2030-01-31T09:30+01:00"
            )
            % {"value": repr(value)}
        ) from None
    if len(text) <= 10:
        # "2030-01-31" parses as midnight; refuse it rather than guess a time.
        raise usage_error(
            _("--at %(value)s has no time of day; use e.g. %(date)sT09:30")
            % {"value": repr(value), "date": text}
        )
    if timezone.is_naive(when):
        when = timezone.make_aware(when, timezone.get_current_timezone())
    return when


def split_numbers(values: Sequence[str] | None) -> list[str]:
    """``--to`` values: repeatable, each may hold several numbers separated by commas."""
    numbers: list[str] = []
    for value in values or ():
        numbers.extend(piece.strip() for piece in value.split(",") if piece.strip())
    return numbers


def validation_text(exc: ValidationError) -> str:
    """``field: message`` lines, one per problem, for the terminal."""
    if hasattr(exc, "error_dict"):
        lines = [
            f"{field}: {message}"
            for field, errors in exc.error_dict.items()
            for error in errors
            for message in error.messages
        ]
    else:
        lines = list(exc.messages)
    return _("invalid SMS:") + "\n  " + "\n  ".join(lines)
