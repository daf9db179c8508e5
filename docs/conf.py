"""Sphinx configuration of the django-smsrest documentation.

Build it with ``make docs`` (``sphinx-build -W --keep-going``: a warning fails the build).
The reference tables (settings, checks, command options, the sandbox's options and fidelity)
and the Python API are generated from the code by ``_ext/smsrest_docs.py`` and autodoc, so
Django is configured here (a minimal settings module: nothing touches a database).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent / "_ext")]

if not settings.configured:
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.admin",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django_smsrest",
            *(["django_tasks"] if django.VERSION < (6, 0) else []),
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        USE_TZ=True,
        LANGUAGE_CODE="en",
    )
    django.setup()

_pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

project = "django-smsrest"
author = "django-smsrest developers"
copyright = "django-smsrest developers"
release = _pyproject["project"]["version"]
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "smsrest_docs",
]

# Pages written by other work in progress are listed in index.rst when they land; the
# Italian quick start is its own small tree (it/index.rst).
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
language = "en"

html_theme = "furo"
html_title = f"django-smsrest {release}"
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
# Type hints name Django and requests classes whose own docs are not linked (no intersphinx:
# the build runs offline), so unresolved cross-references in signatures are not warnings.
nitpicky = False

# linkcheck: internal references only (the build runs without the internet; external
# links are checked by nobody rather than by a flaky network).
linkcheck_ignore = [r"https?://.*"]
linkcheck_anchors = False

# Quotes and ellipses only: "--loop" in an option's help must not become an en dash.
smartquotes_action = "qe"

suppress_warnings: list[str] = []
