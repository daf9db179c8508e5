"""Every picture the README shows exists and ships with the sdist (whose README renders it
with a relative path)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _images() -> list[str]:
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    return re.findall(r"^\.\. image:: (\S+)$", text, re.MULTILINE)


def test_every_readme_image_exists() -> None:
    images = _images()
    assert images, "the README shows no picture: update this test"
    missing = [path for path in images if not (ROOT / path).is_file()]
    assert not missing, f"README.rst shows pictures that do not exist: {missing}"


def test_every_readme_image_is_in_the_sdist() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    shipped = [f"{entry}/" for entry in include]
    left_out = [path for path in _images() if not path.startswith(tuple(shipped))]
    assert not left_out, f"the sdist leaves out README pictures: {left_out}"
