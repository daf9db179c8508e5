"""SMS encoding choice and segment/credit counting (3GPP TS 23.038, a.k.a. GSM 03.38).

Plain Python on purpose: the sandbox gateway (which runs without Django) imports this module to
charge the same credits the client predicts. Nothing here reads settings.

Rules implemented (see ``reference/reliability-perf.md`` section 4):

* A message is sent as GSM-7 (``"gsm"``) when every character is in the GSM 7-bit default
  alphabet (:data:`GSM7_BASIC`) or its extension table (:data:`GSM7_EXTENSION`); otherwise the
  whole message is sent as UCS-2 (``"ucs2"``). One smart quote or emoji switches everything.
* GSM-7: a basic character costs 1 septet, an extension character 2 (ESC + code). A single SMS
  holds 160 septets; a concatenated part holds 153 (the 6-byte UDH takes the rest).
* UCS-2: each UTF-16 code unit costs 1; characters outside the BMP (most emoji) cost 2 (a
  surrogate pair). A single SMS holds 70 units; a concatenated part holds 67. (Strictly, UCS-2
  cannot carry surrogate pairs; every gateway and handset in practice sends UTF-16, and the
  gateway calls that ``"ucs2"``.)
* Parts are filled greedily and an escape pair or a surrogate pair is never split across two
  parts, so e.g. 152 plain septets followed by ``€`` need 3 parts, not the 2 that
  ``ceil(units / 153)`` gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_CHARS",
    "SEGMENT_SIZES",
    "Encoding",
    "SegmentCount",
    "choose_encoding",
    "count_segments",
    "credits",
    "is_gsm7",
    "non_gsm_characters",
    "split_segments",
]

Encoding = Literal["gsm", "ucs2"]

# The GSM 7-bit default alphabet, in table order (index == septet value), so it can be checked
# against TS 23.038 table 6.2.1 line by line. 0x1B is ESC (the escape to the extension table):
# it is not a character a message may contain, so it is removed below.
_GSM7_BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00-0x0F (0x09 is capital Ç; lowercase ç is NOT in the table)
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10-0x1F
    " !\"#¤%&'()*+,-./"  # 0x20-0x2F (0x24 is the currency sign ¤, not $)
    "0123456789:;<=>?"  # 0x30-0x3F
    "¡ABCDEFGHIJKLMNO"  # 0x40-0x4F
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50-0x5F
    "¿abcdefghijklmno"  # 0x60-0x6F
    "pqrstuvwxyzäöñüà"  # 0x70-0x7F
)

#: The 127 characters of the GSM-7 default alphabet (1 septet each).
GSM7_BASIC: Final[frozenset[str]] = frozenset(_GSM7_BASIC_TABLE) - {"\x1b"}

#: Extension-table characters and their code after ESC (2 septets each). 0x1B 0x0D (CR2) and
#: 0x1B 0x1B are control/reserved codes, not characters, so they are not listed.
GSM7_EXTENSION_CODES: Final[dict[str, int]] = {
    "\f": 0x0A,  # form feed (page break)
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

#: The 10 extension-table characters (2 septets each).
GSM7_EXTENSION: Final[frozenset[str]] = frozenset(GSM7_EXTENSION_CODES)

_GSM7_ALL: Final[frozenset[str]] = GSM7_BASIC | GSM7_EXTENSION

#: Units per message: (single SMS, each part of a concatenated SMS).
SEGMENT_SIZES: Final[dict[str, tuple[int, int]]] = {"gsm": (160, 153), "ucs2": (70, 67)}

#: The gateway's documented maximum message length in characters, per encoding (POST sms,
#: ``message``). Compare with :attr:`SegmentCount.characters`. Whether the gateway counts an
#: extension character (``€``) once or twice is not documented.
MAX_CHARS: Final[dict[str, int]] = {"gsm": 1000, "ucs2": 450}


@dataclass(frozen=True)
class SegmentCount:
    """How a text will be sent and what it costs per recipient.

    ``encoding``    ``"gsm"`` or ``"ucs2"``.
    ``characters``  ``len(text)``: Unicode code points (an emoji is 1 character, 2 units).
    ``units``       septets for ``gsm`` (extension characters count 2), UTF-16 code units for
                    ``ucs2`` (characters outside the BMP count 2).
    ``segments``    number of SMS parts (credits per recipient); 0 for an empty text.
    ``per_segment`` capacity of each part: 160/70 when the text fits in one SMS (or is
                    empty), 153/67 when it is split.
    ``remaining``   units still free in the last part before another part is needed (for an
                    empty text: a whole single SMS). Because pairs are never split, adding a
                    2-unit character when ``remaining == 1`` starts a new part.
    """

    encoding: Encoding
    characters: int
    units: int
    segments: int
    per_segment: int
    remaining: int

    @property
    def is_multipart(self) -> bool:
        """True when the text is sent as a concatenated SMS (more than one part)."""
        return self.segments > 1


def is_gsm7(text: str) -> bool:
    """True if every character of ``text`` is in the GSM-7 basic or extension table.

    The empty string is GSM-7 (it needs no Unicode).
    """
    return _GSM7_ALL.issuperset(text)


def non_gsm_characters(text: str) -> list[str]:
    """The distinct characters that force ``text`` into UCS-2, in first-seen order.

    Lets a form say *which* character (a smart quote, an ``È``) tripled the cost.
    """
    return list(dict.fromkeys(ch for ch in text if ch not in _GSM7_ALL))


def choose_encoding(text: str) -> Encoding:
    """``"gsm"`` if ``text`` is entirely GSM-7, else ``"ucs2"``.

    The gateway defaults to ``gsm`` and does not switch by itself, so the client must send
    this value as the ``encoding`` field.
    """
    return "gsm" if is_gsm7(text) else "ucs2"


def _resolve_encoding(text: str, encoding: str | None) -> Encoding:
    if encoding is None:
        return choose_encoding(text)
    if encoding == "gsm":
        bad = non_gsm_characters(text)
        if bad:
            shown = ", ".join(repr(ch) for ch in bad[:5])
            raise ValueError(
                f"text cannot be encoded as GSM-7: {shown} not in the GSM 03.38 alphabet; "
                "use encoding='ucs2' or None"
            )
        return "gsm"
    if encoding == "ucs2":
        return "ucs2"
    raise ValueError(f"unknown encoding {encoding!r}; expected 'gsm', 'ucs2' or None")


def _costs(text: str, encoding: Encoding) -> list[int]:
    """Units taken by each character of ``text`` (already known to fit ``encoding``)."""
    if encoding == "gsm":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    # Python strings hold code points; one above U+FFFF becomes a UTF-16 surrogate pair.
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count_segments(text: str, encoding: str | None = None) -> SegmentCount:
    """Count the SMS parts needed for ``text``.

    ``encoding``: ``None`` picks ``gsm`` when every character is GSM-7, else ``ucs2``.
    Forcing ``"gsm"`` on text with a non-GSM character raises :class:`ValueError` (the gateway
    would silently substitute or drop it). Forcing ``"ucs2"`` is always allowed.
    """
    enc = _resolve_encoding(text, encoding)
    single, multi = SEGMENT_SIZES[enc]
    costs = _costs(text, enc)
    units = sum(costs)
    if units <= single:
        return SegmentCount(
            encoding=enc,
            characters=len(text),
            units=units,
            segments=1 if units else 0,
            per_segment=single,
            remaining=single - units,
        )
    parts = _split_costs(costs, multi)
    return SegmentCount(
        encoding=enc,
        characters=len(text),
        units=units,
        segments=len(parts),
        per_segment=multi,
        remaining=multi - parts[-1][2],
    )


def _split_costs(costs: list[int], capacity: int) -> list[tuple[int, int, int]]:
    """Greedy split of per-character ``costs`` into parts of at most ``capacity`` units.

    Returns ``(start, end, units)`` per part (character indexes, end exclusive). A character
    is never divided: if it does not fit in what is left of a part, the part is closed and
    the character opens the next one. This is what keeps escape and surrogate pairs whole.
    """
    parts: list[tuple[int, int, int]] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > capacity:
            parts.append((start, index, used))
            start, used = index, 0
        used += cost
    if used:
        parts.append((start, len(costs), used))
    return parts


def split_segments(text: str, encoding: str | None = None) -> list[str]:
    """The text of each SMS part, as a handset would receive it (``[]`` for empty text).

    Same encoding rules as :func:`count_segments`; ``len(split_segments(t))`` always equals
    ``count_segments(t).segments``.
    """
    enc = _resolve_encoding(text, encoding)
    single, multi = SEGMENT_SIZES[enc]
    costs = _costs(text, enc)
    if not costs:
        return []
    if sum(costs) <= single:
        return [text]
    return [text[start:end] for start, end, _ in _split_costs(costs, multi)]


def credits(text: str, recipients: int, encoding: str | None = None) -> int:
    """Credits one send of ``text`` to ``recipients`` numbers costs: segments x recipients.

    One credit per part per recipient, as the gateway charges (with ``returnCredits=true``
    its ``total_sent`` should equal this).
    """
    if recipients < 0:
        raise ValueError(f"recipients must be >= 0, got {recipients}")
    return count_segments(text, encoding).segments * recipients
