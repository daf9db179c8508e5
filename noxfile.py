"""The supported Django x Python matrix, plus lint, type checks, packaging and messages.

    nox                # tests, lint, typecheck, package
    nox -s tests       # Django 5.2 on Python 3.11, 6.0 on 3.12, 6.1 on 3.13 (SQLite)
    nox -s celery      # the Celery scale-out test: Python 3.12, Django 6.0, PostgreSQL
    nox -s "tests(py3.13-django6.1)"  # one cell of the matrix
    nox -s lint typecheck package
    nox -s docs        # the documentation site, warnings as errors, internal links
    nox -s messages    # after changing a user-facing string: update the .po files

Python interpreters are looked up on PATH (python3.11, python3.12, python3.13); with pyenv,
``export PYENV_VERSION=3.11.7:3.12.1:3.13.0`` makes all three visible.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "package", "docs"]
nox.options.reuse_existing_virtualenvs = True

MATRIX = [("3.11", "5.2"), ("3.12", "6.0"), ("3.13", "6.1")]


@nox.session
@nox.parametrize(("python", "django"), MATRIX, ids=[f"py{p}-django{d}" for p, d in MATRIX])
def tests(session: nox.Session, django: str) -> None:
    """The test suite on SQLite (the PostgreSQL and browser passes run in `make test`).
    The ``celery`` extra installs django-tasks-celery where it exists (Python >= 3.12,
    Django 6); its scale-out test needs PostgreSQL and RabbitMQ: see the ``celery``
    session."""
    session.install("-e", ".[test,celery]", f"django~={django}.0")
    session.run("python", "-m", "django", "--version")
    session.run("pytest", "-q", "-m", "not browser and not slow", *session.posargs)


@nox.session(python="3.12")
def celery(session: nox.Session) -> None:
    """The Celery scale-out test (tests/test_celery_scale_out.py) on Django 6.0 and
    PostgreSQL, the one cell where django-tasks-celery installs; skipped with the reason
    when PostgreSQL or RabbitMQ (127.0.0.1:5672) is not reachable."""
    session.install("-e", ".[test,celery]", "django~=6.0.0")
    env = {"SMSREST_TEST_DB": "postgres"}
    session.run("pytest", "-q", "-rs", "tests/test_celery_scale_out.py", *session.posargs, env=env)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff", "import-linter>=2.1", "-e", ".")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # The one-way layers of ARCHITECTURE.rst ([tool.importlinter] in pyproject.toml).
    session.run("lint-imports")


@nox.session(python="3.12")
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session(python="3.12")
def package(session: nox.Session) -> None:
    """Build the sdist and the wheel, check the metadata renders on PyPI, and run the
    packaging tests (contents, install into a fresh venv, version)."""
    session.install("-e", ".[test]", "build", "twine")
    outdir = session.create_tmp()
    session.run("python", "-m", "build", "--outdir", outdir)
    session.run("twine", "check", "--strict", *_glob(outdir, "*.whl", "*.tar.gz"))
    session.run("pytest", "-q", "tests/test_packaging.py", *session.posargs)


@nox.session(python="3.12")
def docs(session: nox.Session) -> None:
    """The Sphinx site from a clean environment with only the ``docs`` extra, as Read the
    Docs builds it: any warning fails (``-W --keep-going`` reports them all first), then
    linkcheck on the internal references (docs/conf.py ignores external URLs)."""
    session.install("-e", ".[docs]")
    out = Path(session.create_tmp())
    for builder in ("html", "linkcheck"):
        session.run(
            "sphinx-build", "-W", "--keep-going", "-q", "-b", builder, "docs", str(out / builder)
        )


@nox.session(python="3.12", default=False)
def messages(session: nox.Session) -> None:
    """``makemessages`` (django and djangojs, Italian) then ``compilemessages``. Translate
    the new or fuzzy entries in django_smsrest/locale/it/LC_MESSAGES/*.po, then run this
    again so the .mo files match (tests/test_i18n.py checks both)."""
    session.install("-e", ".")
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(_root())}
    with session.chdir("django_smsrest"):
        for domain in ("django", "djangojs"):
            session.run(
                "django-admin", "makemessages", "-l", "it", "-d", domain, "--no-obsolete", env=env
            )
        session.run("django-admin", "compilemessages", env=env)


def _root() -> Path:
    return Path(__file__).resolve().parent


def _glob(directory: str, *patterns: str) -> list[str]:
    return sorted(str(p) for pattern in patterns for p in Path(directory).glob(pattern))
