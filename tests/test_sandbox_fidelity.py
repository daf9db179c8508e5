"""The fidelity table (issue 14, item 8): every simulated behaviour says how sure it is,
on the sandbox's page and in the package docstring, from the reference's marks."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

import django_smsrest.sandbox
from django_smsrest.sandbox.config import OPTION_NAMES
from django_smsrest.sandbox.fidelity import FIDELITY, LEVELS
from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.test_sandbox_helpers import control


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox() as server:
        yield server


def test_every_row_has_a_level_a_source_and_switchable_ones_name_an_option() -> None:
    for behaviour in FIDELITY:
        assert behaviour.level in LEVELS, behaviour
        assert behaviour.source, behaviour
        if behaviour.level == "switchable":
            names = behaviour.switch.replace("/", " ").replace(",", " ").split()
            known = [n for n in names if n in OPTION_NAMES or n.startswith("--")]
            assert known or "*_rate" in behaviour.switch, behaviour
    assert {b.level for b in FIDELITY} == set(LEVELS)


def test_the_page_shows_the_table(sandbox: SandboxServer) -> None:
    page = control(sandbox, "").text

    assert "<h2>Fidelity</h2>" in page
    for behaviour in FIDELITY:
        row = f'<td>{html.escape(behaviour.name)}</td><td class="lvl-{behaviour.level}">'
        assert row in page, behaviour.name


def test_the_table_is_said_once() -> None:
    """The package docstring points at the table instead of repeating it."""
    doc = " ".join((django_smsrest.sandbox.__doc__ or "").split())
    assert "django_smsrest.sandbox.fidelity.FIDELITY" in doc
    assert not [level for level in LEVELS if f" {level}: - " in doc]
