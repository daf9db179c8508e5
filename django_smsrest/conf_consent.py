"""The consent and retention keys of ``SMSREST`` (issue 23), read by
:func:`django_smsrest.conf.build_settings` through :func:`read_consent`:

* ``OVERRIDE_RECIPIENTS``: a list of numbers (E.164 or national with ``DEFAULT_REGION``);
  when not empty, every message goes to them only (staging safety).
* ``STOP_WORDS``: the replies that opt a sender out; compared without case and accents.
* ``SYNC_BLACKLIST``: the sweep also syncs the gateway's blacklist.
* ``QUIET_HOURS``: ``None`` or ``("21:00", "09:00")``: marketing waits for their end.
* ``RETENTION_DAYS``: ``None`` or a number of days: the sweep deletes older finished
  messages and received SMS.

Kept apart from :mod:`django_smsrest.conf` so that module stays one job (reading and
checking every key) of a reasonable size; it imports this one on use.
"""

from __future__ import annotations

import unicodedata
from datetime import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_smsrest.conf import _Reader

#: What ``STOP_WORDS`` is unless set: the Italian words the AGCOM-minded senders print
#: ("rispondi STOP / CANCELLA"), and the English ones.
DEFAULT_STOP_WORDS: tuple[str, ...] = (
    "STOP",
    "ANNULLA",
    "CANCELLA",
    "CANCELLAMI",
    "DISISCRIVI",
    "DISISCRIVIMI",
    "BASTA",
    "UNSUBSCRIBE",
    "END",
    "QUIT",
)

DEFAULTS: dict[str, Any] = {
    "OVERRIDE_RECIPIENTS": [],
    "STOP_WORDS": list(DEFAULT_STOP_WORDS),
    "SYNC_BLACKLIST": False,
    "QUIET_HOURS": None,
    "RETENTION_DAYS": None,
}


def fold(text: str) -> str:
    """``text`` for comparing stop words: accents removed, case folded, surrounding
    white space and punctuation dropped (``" Cancellà!"`` -> ``"cancella"``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.casefold().strip().strip(".!?,;:'\"()[]").strip()


def parse_clock(value: Any) -> time | None:
    """``"21:00"`` -> ``time(21, 0)``; ``None`` when not an ``HH:MM`` string."""
    if not isinstance(value, str):
        return None
    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        return None


def read_consent(reader: _Reader, region: str | None) -> dict[str, Any]:
    """The :class:`~django_smsrest.conf.SmsRestSettings` fields of the consent keys; a
    wrong value is noted on ``reader`` (its problem names the key)."""
    return {
        "override_recipients": _override(reader, region),
        "stop_words": _stop_words(reader),
        "sync_blacklist": reader.flag("SYNC_BLACKLIST"),
        "quiet_hours": _quiet_hours(reader),
        "retention_days": _retention(reader),
    }


def _override(reader: _Reader, region: str | None) -> tuple[str, ...]:
    from django_smsrest.phone import InvalidPhoneNumber, normalize

    value = reader.merged["OVERRIDE_RECIPIENTS"]
    example = "['+393471234567']"
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        return reader.problem(
            "OVERRIDE_RECIPIENTS", f"must be a list of phone numbers, not {value!r}", example
        )
    numbers: list[str] = []
    for item in value:
        try:
            numbers.append(normalize(item, region))
        except (InvalidPhoneNumber, TypeError, AttributeError, ValueError):
            reader.problem(
                "OVERRIDE_RECIPIENTS",
                f"holds {item!r}, which is not a phone number in international format",
                example,
            )
            return ()
    return tuple(dict.fromkeys(numbers))


def _stop_words(reader: _Reader) -> tuple[str, ...]:
    value = reader.merged["STOP_WORDS"]
    if (
        isinstance(value, str)
        or not isinstance(value, list | tuple)
        or not all(isinstance(w, str) and fold(w) for w in value)
    ):
        reader.problem(
            "STOP_WORDS",
            f"must be a list of non-empty words, not {value!r}",
            "['STOP', 'ANNULLA']",
        )
        value = DEFAULT_STOP_WORDS
    return tuple(dict.fromkeys(fold(w) for w in value))


def _quiet_hours(reader: _Reader) -> tuple[time, time] | None:
    value = reader.merged["QUIET_HOURS"]
    if value is None:
        return None
    if isinstance(value, list | tuple) and len(value) == 2:
        start, end = parse_clock(value[0]), parse_clock(value[1])
        if start is not None and end is not None and start != end:
            return (start, end)
    return reader.problem(
        "QUIET_HOURS",
        f"must be None or a (start, end) pair of different 'HH:MM' times, not {value!r}",
        "('21:00', '09:00')",
    )


def _retention(reader: _Reader) -> int | None:
    if reader.merged["RETENTION_DAYS"] is None:
        return None
    days: int = reader.integer("RETENTION_DAYS", 1)
    return days
