"""Reading gateway JSON that an attacker (or a broken gateway) shaped: items that must not
reach the database, and pages that Python's ``json`` cannot even parse.

Two jobs, both plain Python (no Django, no HTTP):

* :func:`item_problem` says why one parsed item cannot be stored as it is: NaN or
  Infinity anywhere (not JSON: PostgreSQL's ``jsonb`` refuses them and SQLite's JSON
  check makes ``INSERT OR IGNORE`` drop the row silently), a NUL (PostgreSQL cannot store
  it in text or ``jsonb``), a lone surrogate (no encoding can carry it), or nesting deeper
  than :data:`MAX_DEPTH`. The walk is iterative: a deep item cannot overflow the stack.
* :func:`loads_page` parses a page whose items are nested deeper than ``json`` can
  recurse (``RecursionError`` at ~1,000 levels): the page is split into its items by a
  small scanner, each item is parsed on its own, and an item that still cannot be parsed
  becomes an :class:`Unparsed` holding its text, so that the good items of the page are
  read and the bad one can be kept raw.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_DEPTH", "RAW_MAX", "Unparsed", "item_problem", "loads_page", "safe_text"]

#: Deepest nesting accepted inside one item (a received SMS is a flat object).
MAX_DEPTH = 32
#: Characters of a bad item's raw text that are kept.
RAW_MAX = 10_000

_PLACEHOLDER = "__smsrest_item_%d__"


@dataclass(frozen=True)
class Unparsed:
    """An item of a page that ``json`` could not parse on its own; ``text`` is its JSON."""

    text: str
    reason: str


def _bad_characters(text: str) -> list[str]:
    return list(
        dict.fromkeys(ch for ch in text if ch == "\x00" or unicodedata.category(ch) == "Cs")
    )


def item_problem(item: Any) -> str:
    """Why ``item`` (parsed JSON) cannot be stored as it is; ``""`` when it can."""
    stack: list[tuple[Any, int]] = [(item, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"JSON nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, float) and not math.isfinite(value):
            return "NaN or Infinity in the JSON (not a JSON number)"
        if isinstance(value, str):
            bad = _bad_characters(value)
            if bad:
                codes = ", ".join(f"U+{ord(ch):04X}" for ch in bad)
                return f"characters no database can store: {codes}"
        elif isinstance(value, dict):
            stack.extend((key, depth + 1) for key in value)
            stack.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value)
    return ""


def safe_text(value: Any, limit: int = RAW_MAX) -> str:
    """``value`` as storable text for a person to read: JSON where possible (NaN and
    Infinity as written, NUL and surrogates as ``\\u`` escapes), else an escaped ``str``;
    cut to ``limit`` characters."""
    if isinstance(value, Unparsed):
        text = value.text
    else:
        try:
            text = json.dumps(value, ensure_ascii=True, default=str)
        except (ValueError, RecursionError):
            try:
                text = str(value)
            except RecursionError:
                text = f"<{type(value).__name__} nested too deep to print>"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # What json.dumps escaped is ASCII already; an Unparsed text may hold raw characters.
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")


def _item_spans(text: str) -> list[tuple[int, int]]:
    """Start and end of every object or list that is an element of the page's list of
    items: the root list (``[{...}, ...]``) or a list directly under the root object
    (``{"messages": [{...}, ...]}``). Strings are skipped, escapes honoured."""
    spans: list[tuple[int, int]] = []
    stack: list[str] = []
    start = -1
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            if stack in (["["], ["{", "["]):
                start = i
            stack.append(ch)
        elif ch in "]}":
            if not stack:
                break
            stack.pop()
            if start >= 0 and stack in (["["], ["{", "["]):
                spans.append((start, i + 1))
                start = -1
    return spans


def loads_page(text: str) -> Any:
    """``json.loads(text)``, except that items nested too deep to parse become
    :class:`Unparsed` instead of failing the whole page. Raises ``ValueError`` when the
    page itself is not JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        pass
    spans = _item_spans(text)
    parts: list[str] = []
    items: list[Any] = []
    last = 0
    for index, (start, end) in enumerate(spans):
        parts += [text[last:start], json.dumps(_PLACEHOLDER % index)]
        last = end
        try:
            items.append(json.loads(text[start:end]))
        except RecursionError:
            items.append(Unparsed(text[start:end], "JSON nested too deep to read"))
        except ValueError as exc:
            items.append(Unparsed(text[start:end], f"not JSON: {exc}"))
    parts.append(text[last:])
    try:
        skeleton = json.loads("".join(parts))
    except RecursionError:
        raise ValueError("JSON nested too deep to read") from None
    placeholders = {_PLACEHOLDER % i: item for i, item in enumerate(items)}

    def restore(value: Any) -> Any:
        if isinstance(value, list):
            return [placeholders.get(v, v) if isinstance(v, str) else v for v in value]
        return value

    if isinstance(skeleton, list):
        return restore(skeleton)
    if isinstance(skeleton, dict):
        return {key: restore(value) for key, value in skeleton.items()}
    return skeleton
