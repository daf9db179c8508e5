"""Personalised messages (``POST paramsms``): the gateway's ``${name}`` placeholders, and the
text each recipient will receive.

The gateway substitutes the values itself; we render the same text beforehand only to
check it (every placeholder has a value, no value is left unused, each text fits) and to
count its segments and credits. Plain Python: no settings, no database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["PLACEHOLDER", "placeholders", "render"]

#: ``${name}``: letters, digits and ``_`` (what every client library of the API uses).
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def placeholders(template: str) -> list[str]:
    """The placeholder names of ``template``, in first-seen order, each once."""
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


def render(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``${name}`` replaced by ``values[name]`` (``KeyError`` for a
    missing one), the way the gateway does it: one pass, so a value that itself contains
    ``${...}`` is not substituted again."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
