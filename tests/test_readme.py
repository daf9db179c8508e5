"""The README is the front door: short, rendered by the package index without a warning,
and every link into the documentation lands on a page (and section) that exists.

The README links to the published documentation (Read the Docs), whose pages are built from
``docs/``; a link is checked against that source: ``.../en/latest/sending.html#the-admin``
needs ``docs/sending.rst`` and, in it, a section titled "The admin" or a label
``.. _the-admin:``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import readme_renderer.rst

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.rst").read_text(encoding="utf-8")
DOCS_URL = "https://django-smsrest.readthedocs.io/en/latest/"
HEADING = re.compile(r"^([=\-~^\"'`#*+<>])\1{3,}$")


def test_readme_renders_on_the_package_index_without_a_warning() -> None:
    warnings = io.StringIO()
    html = readme_renderer.rst.render(README, stream=warnings)
    assert html is not None, warnings.getvalue()
    assert warnings.getvalue() == ""


def test_the_readme_is_a_front_door_not_a_manual() -> None:
    assert len(README.splitlines()) <= 300
    assert ".. image:: docs/admin-dashboard.png" in README


def _ids(page: Path) -> set[str]:
    """The HTML ids Sphinx gives the page's sections and labels."""
    lines = page.read_text(encoding="utf-8").splitlines()
    ids = set()
    for index, line in enumerate(lines[:-1]):
        if line.strip() and HEADING.match(lines[index + 1]):
            ids.add(re.sub(r"[^a-z0-9]+", "-", line.strip().lower()).strip("-"))
    for label in re.findall(r"^\.\. _([\w-]+):$", "\n".join(lines), re.MULTILINE):
        ids.add(label.lower().replace("_", "-"))
    # Labels the generated tables add (docs/_ext/smsrest_docs.py: one per command).
    if page.name == "reference.rst":
        commands = ROOT / "django_smsrest" / "management" / "commands"
        ids |= {f"command-{p.stem.replace('_', '-')}" for p in commands.glob("[!_]*.py")}
    return ids


def test_every_link_into_the_documentation_resolves() -> None:
    links = re.findall(re.escape(DOCS_URL) + r"([\w/.-]+\.html)(?:#([\w-]+))?", README)
    assert len(links) >= 10, "the feature list links into the documentation"
    for page, anchor in links:
        source = ROOT / "docs" / page.replace(".html", ".rst")
        assert source.is_file(), f"README links to {page}, but docs/ has no {source.name}"
        if anchor:
            assert anchor in _ids(source), f"README links to {page}#{anchor}: no such section"


def test_the_readme_summary_of_the_ten_minutes_is_the_tested_one() -> None:
    """The README's settings for the sandbox are lines of the quick start's settings block,
    which ``tests/test_first_hour.py`` runs: the summary cannot drift from the path."""
    from tests.test_first_hour import GUIDES, guide_blocks

    (settings_block,) = [b for b in guide_blocks(GUIDES["en"]) if b.language == "python"]
    tested = {line.split("  #")[0].strip() for line in settings_block.text.splitlines()}
    start = README.index("    SMSREST = {", README.index("Your project in ten minutes"))
    summary = README[start : README.index("    }", start) + 5]
    lines = [line.split("  #")[0].strip() for line in summary.splitlines()]
    assert len(lines) >= 5
    assert [line for line in lines if line not in tested] == []
