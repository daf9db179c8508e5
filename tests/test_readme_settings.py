"""The README's settings reference lists exactly the keys ``SMSREST`` accepts.

``django_smsrest.conf.DEFAULTS`` is the list of accepted keys (an unknown key is an error),
so a key missing from the README's table is a setting nobody can discover, and a key in the
table but not in ``DEFAULTS`` is one that ``manage.py check`` would refuse.
"""

from __future__ import annotations

import re
from pathlib import Path

from django_smsrest.conf import DEFAULTS

README = Path(__file__).resolve().parent.parent / "README.rst"


def _section(text: str, title: str) -> str:
    """The body of the section titled ``title``, up to the next title of any level."""
    lines = text.splitlines()
    heading = re.compile(r"^([=\-~^\"'`#*+<>])\1{3,}$")
    start = next(
        i
        for i, line in enumerate(lines[:-1])
        if line.strip() == title and heading.match(lines[i + 1])
    )
    body: list[str] = []
    for i in range(start + 2, len(lines)):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if lines[i].strip() and heading.match(nxt) and len(nxt) >= len(lines[i].strip()):
            break
        body.append(lines[i])
    return "\n".join(body)


def _table_keys(section: str) -> set[str]:
    """The ``KEY`` literals in the first column of the section's first simple table."""
    lines = section.splitlines()
    border = next(i for i, line in enumerate(lines) if re.match(r"^=+( +=+)+$", line))
    width = len(lines[border].split(" ")[0])
    rows: list[str] = []
    borders = 0
    for line in lines[border:]:
        if re.match(r"^=+( +=+)+$", line):
            borders += 1
            if borders == 3:  # top, below the header, bottom
                break
            continue
        if borders == 2:
            rows.append(line[:width])
    return set(re.findall(r"``([A-Z][A-Z0-9_]*)``", "\n".join(rows)))


def test_every_setting_is_in_the_readme_table() -> None:
    keys = _table_keys(_section(README.read_text(encoding="utf-8"), "Settings reference"))
    missing = sorted(set(DEFAULTS) - keys)
    assert not missing, f"README.rst 'Settings reference' does not list {missing}"


def test_the_readme_table_lists_no_unknown_setting() -> None:
    keys = _table_keys(_section(README.read_text(encoding="utf-8"), "Settings reference"))
    unknown = sorted(keys - set(DEFAULTS))
    assert not unknown, f"README.rst 'Settings reference' lists {unknown}, not in DEFAULTS"
