"""The documentation's reference tables are generated from the code, and complete.

``django_smsrest.conf.DEFAULTS`` is the list of accepted ``SMSREST`` keys (an unknown key is
an error), and ``conf.SETTINGS_HELP`` says what each means: a key without a meaning is a
setting nobody can discover, a meaning without a key documents one that ``manage.py check``
refuses. Likewise every system check id the app reports has its line in
``checks.CHECK_IDS``. The tables themselves come from ``docs/_ext/smsrest_docs.py``, which
these tests call as the Sphinx build does.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from django.core.management import load_command_class

from django_smsrest import checks
from django_smsrest.conf import DEFAULTS, SETTINGS_HELP
from django_smsrest.sandbox.__main__ import build_parser
from django_smsrest.sandbox.fidelity import FIDELITY

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def generator() -> Iterator[ModuleType]:
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        import smsrest_docs

        yield smsrest_docs
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))


def test_every_setting_has_a_meaning() -> None:
    missing = sorted(key for key in DEFAULTS if not SETTINGS_HELP.get(key, "").strip())
    assert not missing, (
        f"conf.SETTINGS_HELP has no meaning for {missing}: add one line each next to "
        "DEFAULTS in django_smsrest/conf.py (the documentation's settings reference is "
        "generated from them)"
    )


def test_no_meaning_without_a_setting() -> None:
    unknown = sorted(set(SETTINGS_HELP) - set(DEFAULTS))
    assert not unknown, f"conf.SETTINGS_HELP documents {unknown}, which are not in DEFAULTS"


def test_every_check_id_has_a_meaning() -> None:
    source = Path(checks.__file__).read_text(encoding="utf-8")
    reported = set(re.findall(r'id="(django_smsrest\.[EW]\d{3})"', source))
    assert reported, "no check id found: update this test"
    assert reported == set(checks.CHECK_IDS), (
        f"checks.CHECK_IDS lacks {sorted(reported - set(checks.CHECK_IDS))}, "
        f"lists unused {sorted(set(checks.CHECK_IDS) - reported)}"
    )


def test_the_settings_table_lists_every_key_with_its_meaning(generator: ModuleType) -> None:
    text = "\n".join(generator.settings_rst())
    for key, meaning in SETTINGS_HELP.items():
        assert f"``{key}``" in text
        assert " ".join(meaning.split()) in text


def test_the_checks_table_lists_every_id(generator: ModuleType) -> None:
    text = "\n".join(generator.checks_rst())
    assert all(f"``{check_id}``" in text for check_id in checks.CHECK_IDS)


def test_the_command_reference_lists_every_option(generator: ModuleType) -> None:
    text = "\n".join(generator.commands_rst())
    parser = load_command_class("django_smsrest", "send_sms").create_parser(
        "manage.py", "send_sms"
    )
    flags = [
        flag
        for action in parser._actions
        if action.dest not in generator.DJANGO_COMMON_DESTS
        for flag in action.option_strings
    ]
    assert "--dry-run" in flags
    missing = [flag for flag in flags if flag not in text]
    assert not missing, missing
    assert "TEXT" in text  # the positional argument


def test_the_sandbox_reference_lists_every_option(generator: ModuleType) -> None:
    text = "\n".join(generator.sandbox_options_rst())
    flags = [
        flag for a in build_parser()._actions if a.dest != "help" for flag in a.option_strings
    ]
    assert "--error-after-rate" in flags
    missing = [flag for flag in flags if flag not in text]
    assert not missing, missing


def test_the_fidelity_table_lists_every_behaviour(generator: ModuleType) -> None:
    text = "\n".join(generator.fidelity_rst())
    for behaviour in FIDELITY:
        assert generator._escape(behaviour.name) in text
        assert behaviour.level in text


@pytest.mark.slow
def test_the_built_site_shows_every_key_option_and_public_function(tmp_path: Path) -> None:
    """``sphinx-build -W`` (as ``make docs``): no warning, and the generated HTML has every
    ``SMSREST`` key, every ``send_sms`` option and every public function of the services
    and the testing helpers."""
    pytest.importorskip("sphinx", reason="sphinx is in the docs extra")
    import subprocess

    from django_smsrest import services, testing

    if os.environ.get("SMSREST_TEST_DB") == "postgres":
        pytest.skip("the documentation does not depend on the database")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(ROOT / "docs"),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    configuration = (tmp_path / "configuration.html").read_text(encoding="utf-8")
    assert all(f">{key}<" in configuration for key in DEFAULTS)
    reference = (tmp_path / "reference.html").read_text(encoding="utf-8")
    parser = load_command_class("django_smsrest", "send_sms").create_parser(
        "manage.py", "send_sms"
    )
    for action in parser._actions:
        for flag in action.option_strings:
            assert flag in reference or action.dest in {"help", "version"}, flag
    functions = [n for n in services.__all__ if callable(getattr(services, n))]
    missing = [n for n in functions if f'id="django_smsrest.services.{n}"' not in reference]
    assert not missing, missing
    helpers = [n for n in testing.__all__ if callable(getattr(testing, n))]
    assert [n for n in helpers if n not in reference] == []
