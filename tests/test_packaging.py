"""The distribution: what the wheel and sdist contain, that the wheel installs and runs in a
fresh virtualenv, that PyPI would render the metadata, and that the version agrees.

Building takes a while (an isolated build environment), so the tests that build are marked
``slow``; they build once per session into a temporary directory, never into ``dist/``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import django_smsrest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]

# `make test` runs the suite twice (SQLite, then PostgreSQL); building once is enough.
not_in_postgres_pass = pytest.mark.skipif(
    os.environ.get("SMSREST_TEST_DB") == "postgres",
    reason="packaging does not depend on the database; it runs in the SQLite pass",
)


def test_version_agrees() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert django_smsrest.__version__ == VERSION
    changelog = (ROOT / "CHANGELOG.rst").read_text(encoding="utf-8")
    assert re.search(rf"^{re.escape(VERSION)} \(", changelog, re.MULTILINE), (
        "CHANGELOG.rst has no entry for the current version"
    )


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``python -m build``: the sdist, then the wheel built from that sdist (so a file
    missing from the sdist also breaks the wheel)."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.mark.slow
@not_in_postgres_pass
def test_wheel_contents(dist: dict[str, Path]) -> None:
    wheel = dist["wheel"]
    assert wheel.name == f"django_smsrest-{VERSION}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "django_smsrest/py.typed",
        "django_smsrest/migrations/__init__.py",
        "django_smsrest/migrations/0001_initial.py",
        "django_smsrest/templates/django_smsrest/admin/change_form.html",
        "django_smsrest/templates/django_smsrest/admin/change_list.html",
        "django_smsrest/templates/django_smsrest/admin/resend_confirmation.html",
        "django_smsrest/static/django_smsrest/admin.css",
        "django_smsrest/static/django_smsrest/sms_counter.js",
        "django_smsrest/locale/it/LC_MESSAGES/django.mo",
        "django_smsrest/locale/it/LC_MESSAGES/djangojs.mo",
        "django_smsrest/management/commands/send_sms.py",
        "django_smsrest/sandbox/__main__.py",
        "django_smsrest/testing/__init__.py",
    }
    assert expected <= names, sorted(expected - names)
    # Only the package: no tests, example project, caches or compiled files.
    assert all(n.startswith(("django_smsrest/", "django_smsrest-")) for n in names), names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    metadata = zipfile.ZipFile(wheel).read(f"django_smsrest-{VERSION}.dist-info/METADATA")
    text = metadata.decode()
    assert f"Version: {VERSION}" in text
    assert "Requires-Dist: django-tasks>=0.12; python_version < '3.12'" in text


@pytest.mark.slow
@not_in_postgres_pass
def test_sdist_contents(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    expected = {
        "pyproject.toml",
        "README.rst",
        "ARCHITECTURE.rst",
        "CHANGELOG.rst",
        "django_smsrest/locale/it/LC_MESSAGES/django.po",
        "django_smsrest/locale/it/LC_MESSAGES/django.mo",
        "tests/settings.py",
        "tests/test_packaging.py",
    }
    assert expected <= names, sorted(expected - names)
    assert not [n for n in names if "__pycache__" in n or n.startswith((".venv/", ".nox/"))]


@pytest.mark.slow
@not_in_postgres_pass
def test_metadata_renders_on_pypi(dist: dict[str, Path]) -> None:
    """``twine check``: the README (the long description) is valid reStructuredText."""
    pytest.importorskip("twine", reason="twine is in the dev extra")
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.values())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


Pip = Callable[..., subprocess.CompletedProcess[str]]


def install_dependencies(pip: Pip, wheel: Path) -> None:
    """``pip install WHEEL`` with its dependencies from the package index. A failure is a
    test failure, unless the index itself cannot be reached (offline): then the test is
    skipped, and says so. Reachable means pip can resolve Django there (a dry run)."""
    with_deps = pip(str(wheel))
    if with_deps.returncode == 0:
        return
    probe = pip("--dry-run", "--no-deps", "--ignore-installed", "Django")
    if probe.returncode != 0:
        pytest.skip(f"the package index cannot be reached: {probe.stderr[-500:]}")
    pytest.fail(f"the wheel's dependencies did not install: {with_deps.stderr[-2000:]}")


def _pip_answering(*codes: int) -> Pip:
    answers = iter(codes)

    def pip(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(["pip", *args], next(answers), "", "pip said no")

    return pip


def test_an_install_failure_fails_when_the_index_answers() -> None:
    with pytest.raises(pytest.fail.Exception, match="did not install"):
        install_dependencies(_pip_answering(1, 0), Path("x.whl"))


def test_an_install_failure_skips_only_when_the_index_is_unreachable() -> None:
    with pytest.raises(pytest.skip.Exception, match="cannot be reached"):
        install_dependencies(_pip_answering(1, 1), Path("x.whl"))
    install_dependencies(_pip_answering(0), Path("x.whl"))  # installed: nothing to say


@pytest.mark.slow
@not_in_postgres_pass
def test_wheel_installs_and_runs_in_a_fresh_venv(dist: dict[str, Path], tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Run from tmp_path: the checkout's django_smsrest/ must not shadow the installed one.
    run = {"capture_output": True, "text": True, "cwd": tmp_path, "env": clean}

    def pip(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        return subprocess.run([*cmd, *args], timeout=600, **run)

    installed = pip("--no-deps", str(dist["wheel"]))
    assert installed.returncode == 0, installed.stderr
    install_dependencies(pip, dist["wheel"])

    code = (
        "import django_smsrest, django_smsrest.sandbox, django_smsrest.conf;"
        "import pathlib, sys;"
        "print(django_smsrest.__version__);"
        "print(pathlib.Path(django_smsrest.__file__).resolve().is_relative_to(sys.prefix))"
    )
    imported = subprocess.run([str(python), "-c", code], timeout=60, **run)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.split() == [VERSION, "True"]

    helped = subprocess.run(
        [str(python), "-m", "django_smsrest.sandbox", "--help"], timeout=60, **run
    )
    assert helped.returncode == 0, helped.stderr
    assert "--port" in helped.stdout
