"""Transcripts in the documentation, replayed: what a page shows a command printing is what
it prints.

A console block marked ``.. transcript: sandbox`` (an invisible comment) runs against a
fresh sandbox gateway through the REST backend, in a fresh database: ``$ cat FILE`` writes
the lines below it to FILE, ``$ python manage.py send_sms ...`` runs the command, ``$ curl
...`` runs curl against the sandbox (a trailing ``\\`` continues on the next line), and the
output must be the lines below the command, in order (``...`` stands for any text). Only
what no run can repeat is normalised: gateway order ids (32 hex digits) and message numbers
(``#12``).
"""

from __future__ import annotations

import io
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from django_smsrest.testing.sandbox import SandboxServer
from tests.test_first_hour import SANDBOX_PORT, Block, matches, parse_blocks

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
    port = str(smsrest_sandbox_settings.base_url.split(":")[2].split("/")[0])
    for command in block.commands:
        line, expected = command.line, list(command.expected)
        while line.endswith("\\"):
            line = line[:-1] + " " + expected.pop(0)
        words = shlex.split(line)
        if words[0] == "cat":
            (tmp_path / words[1]).write_text("\n".join(expected) + "\n")
            continue
        if words[0] == "curl":
            done = subprocess.run(
                ["curl", "-s", *[w.replace(SANDBOX_PORT, port) for w in words[1:]]],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            output = done.stdout
        else:
            assert words[:3] == ["python", "manage.py", "send_sms"], line
            out = io.StringIO()
            call_command("send_sms", *words[3:], stdout=out, stderr=out)
            output = out.getvalue()
        printed = [normalise(text) for text in output.splitlines() if text.strip()]
        wanted = [normalise(text) for text in expected]
        assert len(printed) == len(wanted) and all(map(matches, wanted, printed)), (
            f"{line}\nprinted: {printed}\nwanted:  {wanted}"
        )
