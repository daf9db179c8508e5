"""The supported Django x Python matrix, plus lint and type checks.

    nox -s tests      # Django 5.2 on Python 3.11, 6.0 on 3.12, 6.1 on 3.13 (SQLite)
    nox -s lint typecheck

Python interpreters are looked up on PATH (python3.11, python3.12, python3.13); with pyenv,
``export PYENV_VERSION=3.11.7:3.12.1:3.13.0`` makes all three visible.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

MATRIX = [("3.11", "5.2"), ("3.12", "6.0"), ("3.13", "6.1")]


@nox.session
@nox.parametrize(("python", "django"), MATRIX, ids=[f"py{p}-django{d}" for p, d in MATRIX])
def tests(session: nox.Session, django: str) -> None:
    """The test suite on SQLite (the PostgreSQL and browser passes run in `make test`)."""
    session.install("-e", ".[test]", f"django~={django}.0")
    session.run("python", "-m", "django", "--version")
    session.run("pytest", "-q", "-m", "not browser and not slow", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.12")
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")
