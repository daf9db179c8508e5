"""The Performance figures of the documentation are those of one results file of
``bench/bench.py`` (issue 20 item 11): the block between the ``bench-results`` markers is
exactly what ``bench/readme.py`` builds from the results file it names, and that file is
committed. A figure typed by hand, or a results file replaced without regenerating the
tables, fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import readme

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.rst", *sorted((ROOT / "docs").glob("**/*.rst"))]
WITH_FIGURES = [page for page in PAGES if readme.BEGIN in page.read_text()]


def test_some_page_shows_the_figures() -> None:
    assert WITH_FIGURES, "no page has the bench-results markers"


@pytest.mark.parametrize("page", WITH_FIGURES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_figures_are_those_of_the_named_results_file(page: Path) -> None:
    text = page.read_text()
    for index in range(len(readme.spans(text))):
        source = readme.named_source(text, index)
        assert source, f"{page.name}: block {index + 1} names no results file"
        results = json.loads((ROOT / source).read_text())
        for key in ("date", "commit", "machine", "params", "command"):
            assert results.get(key), f"{source} has no {key!r}"
        assert readme.replace_block(text, readme.render(results, source), index) == text, (
            f"{page.name} does not show the figures of {source}: run python bench/readme.py"
        )


def test_every_block_is_rebuilt_from_its_own_file() -> None:
    """A page with several blocks (a full run, the engine's targets): each is rebuilt from
    the file it names, not all from one."""
    pages = [page for page in WITH_FIGURES if len(readme.spans(page.read_text())) > 1]
    assert pages, "no page has two bench-results blocks"
    text = pages[0].read_text()
    rebuilt, shown = readme.rebuild(text)
    assert rebuilt == text
    assert shown == [readme.named_source(text, index) for index in range(len(shown))]
    assert len(set(shown)) == len(shown), shown


def test_the_block_is_rebuilt_from_the_file(tmp_path: Path) -> None:
    """A figure changed in the results file changes the page (the check is not vacuous)."""
    page = WITH_FIGURES[0]
    text = page.read_text()
    source = readme.named_source(text)
    assert source
    results = json.loads((ROOT / source).read_text())
    results["floor"]["per_s"] = 123_456.0
    assert "123,456" in readme.render(results, source)
    assert readme.replace_block(text, readme.render(results, source)) != text
