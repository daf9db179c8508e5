"""Segment counting against the GSM 03.38 rules, with smsutil 1.1.3 as an independent oracle.

Expected values are written out from the standard (160/153, 70/67, extension = 2 septets,
pairs never split) and, where smsutil applies, also compared with it. The two places where
smsutil disagrees with the standard (empty text, a bare ESC character) are tested explicitly.
"""

from __future__ import annotations

import math

import pytest
import smsutil
import smsutil.codecs
from hypothesis import given, settings
from hypothesis import strategies as st

from django_smsrest import segments
from django_smsrest.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_CHARS,
    SegmentCount,
    choose_encoding,
    count_segments,
    credits,
    is_gsm7,
    non_gsm_characters,
    split_segments,
)

EMOJI = "\U0001f600"  # 😀, outside the BMP: a UTF-16 surrogate pair
CYRILLIC = "Ж"  # in the BMP, not GSM-7: 1 UTF-16 unit
# Typographic quotes (what word processors and phones insert): not GSM-7.
RSQUO, LDQUO, RDQUO = "\u2019", "\u201c", "\u201d"


def oracle(text: str, encoding: str | None = None) -> tuple[str, int, int, list[str]]:
    """(encoding, units, segments, part texts) according to smsutil."""
    if encoding == "ucs2":
        result = smsutil.unicode_split(text)
    elif encoding == "gsm":
        result = smsutil.gsm_split(text)
    else:
        result = smsutil.split(text)
    if result.encoding == "gsm0338":
        return "gsm", result.total_bytes, len(result.parts), [p.content for p in result.parts]
    return "ucs2", result.total_bytes // 2, len(result.parts), [p.content for p in result.parts]


def ours(text: str, encoding: str | None = None) -> tuple[str, int, int, list[str]]:
    count = count_segments(text, encoding)
    return count.encoding, count.units, count.segments, split_segments(text, encoding)


# (id, text, expected SegmentCount fields: encoding, units, segments, per_segment, remaining)
EDGE_CASES = [
    ("gsm-160", "a" * 160, ("gsm", 160, 1, 160, 0)),
    ("gsm-161", "a" * 161, ("gsm", 161, 2, 153, 145)),
    ("gsm-306", "a" * 306, ("gsm", 306, 2, 153, 0)),
    ("gsm-307", "a" * 307, ("gsm", 307, 3, 153, 152)),
    ("euro-80", "€" * 80, ("gsm", 160, 1, 160, 0)),
    ("euro-81", "€" * 81, ("gsm", 162, 2, 153, 143)),
    # 152 septets + ESC pair at septets 153/154: the pair moves whole to part 2, so the
    # 306 septets need 3 parts although ceil(306 / 153) == 2.
    ("escape-straddles", "a" * 152 + "€" + "a" * 152, ("gsm", 306, 3, 153, 152)),
    ("ucs2-70", CYRILLIC * 70, ("ucs2", 70, 1, 70, 0)),
    ("ucs2-71", CYRILLIC * 71, ("ucs2", 71, 2, 67, 63)),
    ("emoji-35", EMOJI * 35, ("ucs2", 70, 1, 70, 0)),
    ("emoji-36", EMOJI * 36, ("ucs2", 72, 2, 67, 61)),
    # 66 units + surrogate pair at units 67/68: 134 units, 3 parts, not ceil(134 / 67) == 2.
    ("emoji-straddles", CYRILLIC * 66 + EMOJI + CYRILLIC * 66, ("ucs2", 134, 3, 67, 66)),
    ("italian-gsm", "Perché è già là? Sì, però più città", ("gsm", 35, 1, 160, 125)),
    ("italian-ucs2", "È l\u2019ora", ("ucs2", 7, 1, 70, 63)),
    ("crlf", "a\r\nb", ("gsm", 4, 1, 160, 156)),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in EDGE_CASES], ids=[c[0] for c in EDGE_CASES]
)
def test_edge_cases_match_the_standard(
    text: str, expected: tuple[str, int, int, int, int]
) -> None:
    count = count_segments(text)
    assert (
        count.encoding,
        count.units,
        count.segments,
        count.per_segment,
        count.remaining,
    ) == expected
    assert count.characters == len(text)
    assert count.is_multipart == (expected[2] > 1)


@pytest.mark.parametrize("text", [c[1] for c in EDGE_CASES], ids=[c[0] for c in EDGE_CASES])
def test_edge_cases_agree_with_smsutil(text: str) -> None:
    assert ours(text) == oracle(text)


def test_straddling_pairs_beat_naive_division() -> None:
    """The reason for a real greedy split: plain division under-counts these."""
    escape = "a" * 152 + "€" + "a" * 152
    emoji = CYRILLIC * 66 + EMOJI + CYRILLIC * 66
    assert math.ceil(count_segments(escape).units / 153) == 2
    assert math.ceil(count_segments(emoji).units / 67) == 2
    assert split_segments(escape) == ["a" * 152, "€" + "a" * 151, "a"]
    assert split_segments(emoji) == [CYRILLIC * 66, EMOJI + CYRILLIC * 65, CYRILLIC]


def test_empty_text_has_no_segments() -> None:
    assert count_segments("") == SegmentCount(
        encoding="gsm", characters=0, units=0, segments=0, per_segment=160, remaining=160
    )
    assert split_segments("") == []
    assert credits("", 100) == 0
    # smsutil disagrees: its GSM regex needs at least one character, so "" goes to its UCS-2
    # path, which then returns one empty part. An empty message costs nothing here.
    assert oracle("") == ("ucs2", 0, 1, [""])


def test_bare_escape_character_is_not_gsm() -> None:
    # 0x1B is the escape to the extension table, not a character. smsutil's basic charset
    # includes it, so it would send U+001B as GSM; we send such text as UCS-2.
    assert not is_gsm7("\x1b")
    assert count_segments("a\x1b").encoding == "ucs2"
    assert smsutil.codecs.is_valid_gsm("a\x1b")
    with pytest.raises(ValueError, match="GSM-7"):
        count_segments("\x1b", "gsm")


def test_alphabet_tables() -> None:
    assert len(segments._GSM7_BASIC_TABLE) == 128  # one entry per septet value
    assert segments._GSM7_BASIC_TABLE[0x1B] == "\x1b"
    assert len(GSM7_BASIC) == 127
    assert frozenset("\f^{}\\[~]|€") == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION
    # Cross-check with smsutil's independently typed tables (minus its ESC entry).
    assert frozenset(smsutil.codecs.GSM_BASIC_CHARSET) - {"\x1b"} == GSM7_BASIC
    assert frozenset(smsutil.codecs.GSM_EXT_CHARSET) == GSM7_EXTENSION
    # Spot checks people get wrong: $ is in, ¤ is 0x24, capital Ç in, lowercase ç out.
    assert {"$", "¤", "Ç", "à", "è", "é", "ì", "ò", "ù"} <= GSM7_BASIC
    assert not {"ç", "À", "È", RSQUO, LDQUO, RDQUO, "`"} & (GSM7_BASIC | GSM7_EXTENSION)


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION))
def test_each_extension_character_costs_two_septets(char: str) -> None:
    count = count_segments(char)
    assert (count.encoding, count.units, count.remaining) == ("gsm", 2, 158)
    assert oracle(char)[1] == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Perché è già là? Sì, però più città", True),
        ("Conto: 10€ [ok] {x} ~ | \\ ^", True),
        ("È l\u2019ora", False),
        ("À presto", False),
        ("ça va", False),
        (LDQUO + "citazione" + RDQUO, False),
        ("ciao " + EMOJI, False),
        ("", True),
    ],
)
def test_is_gsm7_and_choose_encoding(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected
    assert choose_encoding(text) == ("gsm" if expected else "ucs2")


def test_non_gsm_characters_lists_culprits_once_in_order() -> None:
    text = f"È l{RSQUO}ora, l{RSQUO}È {LDQUO}ok{RDQUO} {EMOJI}"
    assert non_gsm_characters(text) == ["È", RSQUO, LDQUO, RDQUO, EMOJI]
    assert non_gsm_characters("tutto GSM: €[]") == []


def test_forcing_gsm_on_non_gsm_text_raises() -> None:
    with pytest.raises(ValueError, match="'È'"):
        count_segments("È l\u2019ora", "gsm")
    with pytest.raises(ValueError, match="GSM-7"):
        split_segments("ciao " + EMOJI, "gsm")
    with pytest.raises(ValueError, match="GSM-7"):
        credits("ç", 1, "gsm")


def test_forcing_ucs2_on_gsm_text_counts_utf16_units() -> None:
    text = "a" * 71  # 1 GSM part, but 2 UCS-2 parts
    assert count_segments(text).segments == 1
    count = count_segments(text, "ucs2")
    assert (count.encoding, count.units, count.segments, count.remaining) == ("ucs2", 71, 2, 63)
    assert ours(text, "ucs2") == oracle(text, "ucs2")
    # Extension characters are ordinary 1-unit characters in UCS-2.
    assert count_segments("€" * 70, "ucs2").units == 70


def test_unknown_encoding_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown encoding 'utf8'"):
        count_segments("abc", "utf8")
    with pytest.raises(ValueError, match="unknown encoding"):
        count_segments("abc", "GSM")  # the gateway's values are lowercase


def test_model_encoding_choices_are_accepted() -> None:
    # models.Encoding values are str subclasses; passing them through must work.
    from django_smsrest.models import Encoding

    assert count_segments("a" * 71, Encoding.UCS2).segments == 2
    assert count_segments("abc", Encoding.GSM).encoding == "gsm"


@pytest.mark.parametrize(
    ("text", "recipients", "expected"),
    [("a" * 160, 3, 3), ("a" * 161, 3, 6), (EMOJI * 36, 10, 20), ("abc", 0, 0)],
)
def test_credits_is_segments_times_recipients(text: str, recipients: int, expected: int) -> None:
    assert credits(text, recipients) == expected


def test_credits_honours_forced_encoding_and_rejects_negative_recipients() -> None:
    assert credits("a" * 71, 2, "ucs2") == 4
    with pytest.raises(ValueError, match="recipients"):
        credits("abc", -1)


def test_max_chars_are_the_gateway_limits() -> None:
    assert MAX_CHARS == {"gsm": 1000, "ucs2": 450}


def test_remaining_predicts_when_the_next_part_starts() -> None:
    """Appending ``remaining`` 1-unit characters keeps the count; one more adds a part."""
    for text in ["a" * 150, "a" * 200, "€" * 100, CYRILLIC * 60, EMOJI * 40]:
        count = count_segments(text)
        filler = "a" if count.encoding == "gsm" else CYRILLIC
        assert count_segments(text + filler * count.remaining).segments == count.segments
        assert count_segments(text + filler * (count.remaining + 1)).segments == count.segments + 1


# Property test: random strings from the GSM basic/extension tables, BMP and emoji.
GSM_CHARS = st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION))
EXTENSION_CHARS = st.sampled_from(sorted(GSM7_EXTENSION))
BMP_CHARS = st.characters(min_codepoint=0x80, max_codepoint=0xFFFF, exclude_categories=["Cs"])
EMOJI_CHARS = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)

GSM_TEXT = st.text(st.one_of(GSM_CHARS, EXTENSION_CHARS), min_size=1, max_size=500)
MIXED_TEXT = st.text(
    st.one_of(GSM_CHARS, EXTENSION_CHARS, BMP_CHARS, EMOJI_CHARS), min_size=1, max_size=250
)
# Hypothesis favours short strings; these lengths sit around the 1/2/3-part boundaries,
# where a naive ``ceil(units / per_part)`` goes wrong.
LONG_GSM_TEXT = st.text(st.one_of(GSM_CHARS, EXTENSION_CHARS), min_size=140, max_size=320)
LONG_UCS2_TEXT = st.text(st.one_of(BMP_CHARS, EMOJI_CHARS), min_size=30, max_size=140)


def _straddle(head: str, pair: str, tail: str, parts: int) -> str:
    """A random text with a 2-unit character on the part 1/2 boundary, padded to a whole
    number of full parts, so that splitting the pair (or ignoring the wasted unit) is
    visible in the part count.

    ``head`` is trimmed or padded to one unit less than a part, ``pair`` follows (an extension
    character in GSM-7 or an emoji in UCS-2 takes 2 units), then ``tail`` and filler up to
    ``parts`` x 153 (or 67) units, where naive division and the greedy split differ by one.
    """
    encoding = choose_encoding(head + pair + tail)
    filler = "a" if encoding == "gsm" else CYRILLIC
    per_part = segments.SEGMENT_SIZES[encoding][1]
    while count_segments(head, encoding).units > per_part - 1:
        head = head[:-1]
    head += filler * (per_part - 1 - count_segments(head, encoding).units)
    text = head + pair + tail
    missing = parts * per_part - count_segments(text, encoding).units
    return text + filler * max(missing, 0)


STRADDLE_TEXT = st.builds(
    _straddle,
    st.one_of(LONG_GSM_TEXT, LONG_UCS2_TEXT, MIXED_TEXT),
    st.one_of(EXTENSION_CHARS, EMOJI_CHARS),
    st.one_of(GSM_TEXT, MIXED_TEXT),
    st.integers(min_value=2, max_value=4),
)
# Mostly GSM with an occasional intruder, so both encodings and long texts are common.
MOSTLY_GSM_TEXT = st.builds(
    lambda head, odd, tail: head + odd + tail,
    GSM_TEXT,
    st.one_of(st.just(""), BMP_CHARS, EMOJI_CHARS),
    GSM_TEXT,
)


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.one_of(GSM_TEXT, MIXED_TEXT, MOSTLY_GSM_TEXT, LONG_GSM_TEXT, LONG_UCS2_TEXT, STRADDLE_TEXT)
)
def test_property_agrees_with_smsutil(text: str) -> None:
    assert ours(text) == oracle(text)


@settings(max_examples=400, deadline=None, database=None)
@given(st.one_of(GSM_TEXT, MIXED_TEXT, LONG_GSM_TEXT, LONG_UCS2_TEXT, STRADDLE_TEXT))
def test_property_parts_are_whole_and_within_capacity(text: str) -> None:
    count = count_segments(text)
    parts = split_segments(text)
    assert "".join(parts) == text
    assert len(parts) == count.segments
    assert count.segments >= math.ceil(count.units / count.per_segment)
    for part in parts:
        # Every part is itself encodable and fits: no pair was cut in half.
        assert count_segments(part, count.encoding).units <= count.per_segment
    assert count_segments(parts[-1], count.encoding).units == count.per_segment - count.remaining
