"""Transcripts in the documentation, replayed: what a page shows a command printing is what
it prints.

A console block marked ``.. transcript: sandbox`` (an invisible comment) runs against a
fresh sandbox gateway through the REST backend, in a fresh database: ``$ cat FILE`` writes
the lines below it to FILE, ``$ python manage.py send_sms ...`` runs the command, and its
output must be the lines below it, in order. Only what no run can repeat is normalised:
gateway order ids (32 hex digits) and message numbers (``#12``).
"""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import call_command

from django_smsrest.testing.sandbox import SandboxServer
from tests.test_first_hour import Block, parse_blocks

DOCS = Path(__file__).resolve().parent.parent / "docs"
MARKER = re.compile(r"^\.\. transcript: (.+)$")


def transcripts() -> list[pytest.ParameterSet]:
    found = []
    for page in sorted(DOCS.rglob("*.rst")):
        blocks = parse_blocks(page.read_text(encoding="utf-8"), MARKER)
        for number, block in enumerate(b for b in blocks if b.marker):
            found.append(pytest.param(block, id=f"{page.stem}-{number}"))
    return found


def normalise(line: str) -> str:
    line = re.sub(r"\b[0-9a-f]{32}\b", "<order id>", line.strip())
    return re.sub(r"#\d+\b", "#N", line)


def test_the_documentation_has_transcripts() -> None:
    assert transcripts(), "no '.. transcript:' block found: update this test"


@pytest.mark.django_db
@pytest.mark.parametrize("block", transcripts())
def test_transcript(
    block: Block,
    smsrest_sandbox_settings: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert block.marker == "sandbox", f"unknown transcript kind {block.marker!r}"
    monkeypatch.chdir(tmp_path)
    for command in block.commands:
        words = shlex.split(command.line)
        if words[0] == "cat":
            (tmp_path / words[1]).write_text("\n".join(command.expected) + "\n")
            continue
        assert words[:3] == ["python", "manage.py", "send_sms"], command.line
        out = io.StringIO()
        call_command("send_sms", *words[3:], stdout=out, stderr=out)
        printed = [normalise(line) for line in out.getvalue().splitlines() if line.strip()]
        assert printed == [normalise(line) for line in command.expected], command.line
