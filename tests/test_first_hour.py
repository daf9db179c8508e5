"""The quick start's "Your project in ten minutes", followed literally.

The test reads that section of ``docs/quickstart.rst`` (and of its Italian translation,
``docs/it/quickstart.rst``), takes its code blocks in order and runs
them in a temporary folder: ``django-admin startproject mysite``, the settings block
appended to ``mysite/settings.py``, ``migrate``, the sandbox gateway, ``send_sms`` in
``manage.py shell -c``, then the sweep until the message is DELIVERED. Every ``$ `` line
runs as written in ``bash``; the lines after it are output that must appear, line for
line (``...`` in an expected line stands for any text, e.g. a count that varies). The only
substitutions: ``8765`` becomes a free port, ``PATH/TO/django-smsrest`` this checkout.

The section marks its blocks with reStructuredText comments (invisible when rendered)::

    .. first-hour: install                           the virtual environment and pip
    .. first-hour: append to mysite/settings.py      a python block for that file
    .. first-hour: background                        runs "in a second terminal"
    .. first-hour: repeat until the output matches   retried, a few seconds apart

A ``. FILE`` or ``cd DIR`` line applies to every later command (each runs in its own
``bash``, as in one terminal session).

The fast test leaves out the *install* block (this interpreter already has the checkout
installed: its ``bin`` folder goes first on ``PATH``); ``test_first_hour_from_a_fresh_
virtualenv`` (marked ``slow``) runs it too, in a new virtual environment.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Guide:
    """A quick start page: its file and ten-minute section, and the install section its
    readers are sent to (the English page includes the README's)."""

    path: Path
    section: str
    install: tuple[Path, str]


GUIDES = {
    "en": Guide(
        REPO / "docs" / "quickstart.rst",
        "Your project in ten minutes",
        (REPO / "README.rst", "Install"),
    ),
    "it": Guide(
        REPO / "docs" / "it" / "quickstart.rst",
        "Il tuo progetto in dieci minuti",
        (REPO / "docs" / "it" / "quickstart.rst", "Installazione"),
    ),
}
MARKER = re.compile(r"^\.\. first-hour: (.+)$")
SANDBOX_PORT = "8765"
CHECKOUT = "PATH/TO/django-smsrest"
#: How long a "repeat" block may keep failing before the test gives up.
REPEAT_FOR_SECONDS = 40.0
REPEAT_PAUSE_SECONDS = 2.0


@dataclass
class Command:
    line: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    language: str
    marker: str
    text: str
    commands: list[Command] = field(default_factory=list)


HEADING = re.compile(r"^([=\-~^\"'`#*+<>])\1{3,}$")


def section_text(text: str, title: str) -> str:
    """The body of the section ``title``, up to the next title of any level."""
    lines = text.splitlines()
    start = lines.index(title) + 2  # the title and its underline
    for index in range(start, len(lines) - 1):
        underline = lines[index + 1]
        title = lines[index].strip()
        if title and HEADING.match(underline) and len(underline) >= len(title):
            return "\n".join(lines[start:index])
    return "\n".join(lines[start:])


def matches(expected: str, line: str) -> bool:
    """``line`` is ``expected``, where each ``...`` of ``expected`` stands for any text."""
    pattern = ".*".join(map(re.escape, expected.split("...")))
    return re.fullmatch(pattern, line) is not None


def parse_blocks(text: str, marker_re: re.Pattern[str] = MARKER) -> list[Block]:
    """Every ``.. code-block::`` of ``text``, with the marker before it (``first-hour`` by
    default; ``marker_re``'s group 1 is the marker's text)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    marker = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        found = marker_re.match(line)
        if found:
            marker = found.group(1).strip()
        directive = re.match(r"^\.\. code-block:: (\w+)\s*$", line)
        if not directive:
            index += 1
            continue
        index += 1
        body: list[str] = []
        while index < len(lines) and (not lines[index].strip() or lines[index].startswith(" ")):
            body.append(lines[index])
            index += 1
        indent = min(len(b) - len(b.lstrip()) for b in body if b.strip())
        code = "\n".join(b[indent:] for b in body).strip("\n")
        block = Block(directive.group(1), marker, code)
        if block.language == "console":
            for code_line in code.splitlines():
                if code_line.startswith("$ "):
                    block.commands.append(Command(code_line[2:]))
                elif code_line.strip():
                    assert block.commands, f"output before any command: {code_line!r}"
                    block.commands[-1].expected.append(code_line.strip())
        blocks.append(block)
        marker = ""
    return blocks


def guide_blocks(guide: Guide) -> list[Block]:
    return parse_blocks(section_text(guide.path.read_text(encoding="utf-8"), guide.section))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Terminal:
    """A terminal session: ``cd`` and ``. FILE`` lines carry over to later commands."""

    def __init__(self, root: Path, env: dict[str, str], port: int) -> None:
        self.root = root
        self.env = env
        self.port = str(port)
        self.prelude: list[str] = []
        self.background: list[subprocess.Popen[str]] = []
        self.log: list[str] = []

    def substitute(self, text: str) -> str:
        return text.replace(SANDBOX_PORT, self.port).replace(CHECKOUT, str(REPO))

    def script(self, line: str) -> str:
        return " && ".join([*self.prelude, line])

    def cwd(self) -> Path:
        """The current folder, after the ``cd`` lines so far."""
        done = subprocess.run(
            ["bash", "-c", self.script("pwd")],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return Path(done.stdout.strip())

    def run(self, command: Command, *, check_output: bool = True) -> bool:
        """Run one command; False when its expected output is missing (or it failed)."""
        line = self.substitute(command.line)
        done = subprocess.run(
            ["bash", "-c", self.script(line)],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.log.append(f"$ {line}\n{done.stdout}{done.stderr}")
        assert done.returncode == 0, "\n".join(self.log[-3:])
        if line.startswith(("cd ", ". ", "source ")):
            self.prelude.append(line)
        output = [out.strip() for out in done.stdout.splitlines()]
        missing = [
            e
            for e in map(self.substitute, command.expected)
            if not any(matches(e, out) for out in output)
        ]
        if missing and check_output:
            raise AssertionError(f"{line!r} did not print {missing!r}:\n{self.log[-1]}")
        return not missing

    def start(self, command: Command) -> None:
        """Start a long-running command (a second terminal); check its first lines."""
        proc = subprocess.Popen(
            ["bash", "-c", self.script("exec " + self.substitute(command.line))],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.background.append(proc)
        assert proc.stdout is not None
        for expected in map(self.substitute, command.expected):
            assert matches(expected, proc.stdout.readline().strip())

    def stop(self) -> None:
        for proc in self.background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def clean_env(bin_dir: Path | None) -> dict[str, str]:
    """The environment of a user's shell: none of this test run's Django or smsrest
    variables; ``bin_dir`` (this interpreter's) first on ``PATH`` when given."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SMSREST_", "PYTEST_")) and key != "VIRTUAL_ENV"
    }
    env.pop("PYTHONPATH", None)
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        # This checkout, even if the interpreter has another copy installed.
        env["PYTHONPATH"] = str(REPO)
    return env


def follow_guide(guide: Guide, root: Path, *, install: bool) -> Terminal:
    """Run the section's blocks in ``root``; return the terminal (to inspect, then stop)."""
    env = clean_env(None if install else Path(sys.executable).parent)
    terminal = Terminal(root, env, free_port())
    try:
        for block in guide_blocks(guide):
            if block.marker == "install" and not install:
                # Everything after the virtualenv and pip lines runs; only those are left.
                rest = [c for c in block.commands if not _installs(c.line)]
                for command in rest:
                    terminal.run(command)
                continue
            if block.language == "python":
                target = block.marker.removeprefix("append to ").strip()
                assert block.marker.startswith("append to "), block.marker
                path = terminal.cwd() / target
                path.write_text(path.read_text() + "\n\n" + terminal.substitute(block.text) + "\n")
            elif block.marker == "background":
                for command in block.commands:
                    terminal.start(command)
            elif block.marker == "repeat until the output matches":
                deadline = time.monotonic() + REPEAT_FOR_SECONDS
                while not all([terminal.run(c, check_output=False) for c in block.commands]):
                    assert time.monotonic() < deadline, "\n".join(terminal.log[-4:])
                    time.sleep(REPEAT_PAUSE_SECONDS)
            else:
                assert block.marker in ("", "install"), f"unknown marker {block.marker!r}"
                for command in block.commands:
                    terminal.run(command)
    except BaseException:
        terminal.stop()
        raise
    return terminal


def _installs(line: str) -> bool:
    words = shlex.split(line)
    return (
        words[:3] == ["python3", "-m", "venv"]
        or words[:1] in (["."], ["source"])
        or words[:1] == ["pip"]
    )


# --- the section itself ----------------------------------------------------------------


@pytest.mark.parametrize("language", GUIDES)
def test_the_section_has_the_steps_of_a_first_hour(language: str) -> None:
    guide = GUIDES[language]
    blocks = guide_blocks(guide)
    lines = [c.line for b in blocks for c in b.commands]
    assert "django-admin startproject mysite" in lines
    assert "python manage.py migrate" in lines
    assert "python -m django_smsrest.sandbox --port 8765" in lines
    assert "python manage.py send_sms --sweep" in lines
    assert any("send_sms(" in line and "shell -c" in line for line in lines)
    settings_blocks = [b for b in blocks if b.language == "python"]
    assert [b.marker for b in settings_blocks] == ["append to mysite/settings.py"]
    settings = settings_blocks[0].text
    for key in ('"BASE_URL": "http://127.0.0.1:8765/API/v1.0/REST/"', '"USERNAME": "sandbox"',
                '"PASSWORD": "sandbox"', '"django_smsrest"'):  # fmt: skip
        assert key in settings
    # The install lines are the ones the Install section gives.
    install = next(b for b in blocks if b.marker == "install")
    path, title = guide.install
    for command in install.commands:
        if command.line.startswith("pip "):
            assert command.line in section_text(path.read_text(encoding="utf-8"), title)
    # The last step ends at DELIVERED, and the sweep before it shows what it prints.
    assert blocks[-1].commands[-1].expected == ["delivered"]
    assert blocks[-1].commands[0].expected[0].startswith("Sweep: ")


def test_the_italian_guide_runs_the_same_commands() -> None:
    """A translation changes the words (and the code's comments), never the commands,
    their output or the code: what the English test runs is what the Italian page shows."""

    def runnable(blocks: list[Block]) -> list[tuple[str, str, list[tuple[str, list[str]]], str]]:
        return [
            (
                b.language,
                b.marker,
                [(c.line, c.expected) for c in b.commands],
                "\n".join(
                    line.split("  #")[0].rstrip()
                    for line in b.text.splitlines()
                    if not line.lstrip().startswith("#")
                ),
            )
            for b in blocks
        ]

    english, italian = (guide_blocks(GUIDES[language]) for language in ("en", "it"))
    assert runnable(italian) == runnable(english)


def test_matches_reads_an_ellipsis_as_any_text() -> None:
    assert matches("refreshed: ...; errors: 0", "refreshed: 12; errors: 0")
    assert not matches("refreshed: ...; errors: 0", "refreshed: 1; errors: 3")
    assert matches("sent", "sent")
    assert not matches("sent", "not sent")


def test_parse_blocks_reads_markers_commands_and_output() -> None:
    text = (
        "Intro.\n\n.. first-hour: background\n\n.. code-block:: console\n\n"
        "    $ run it\n    it ran\n    $ again\n\nText.\n\n.. code-block:: python\n\n"
        "    X = 1\n\n    Y = 2\n\nEnd.\n"
    )
    first, second = parse_blocks(text)
    assert first.marker == "background"
    assert [(c.line, c.expected) for c in first.commands] == [
        ("run it", ["it ran"]),
        ("again", []),
    ]
    assert (second.language, second.marker, second.text) == ("python", "", "X = 1\n\nY = 2")


# --- following it ----------------------------------------------------------------------


def test_first_hour_from_startproject_to_delivered(tmp_path: Path) -> None:
    """The whole section, as written, in under a minute: the SMS ends DELIVERED, and the
    sandbox received it exactly once. (The Italian page runs the same blocks: see
    ``test_the_italian_guide_runs_the_same_commands``.)"""
    started = time.monotonic()
    terminal = follow_guide(GUIDES["en"], tmp_path, install=False)
    try:
        project = tmp_path / "mysite"
        assert (project / "manage.py").exists()
        code = (
            "from django_smsrest.models import SmsMessage; m = SmsMessage.objects.get(); "
            "print(m.status, m.message, list(m.recipients.values_list('phone_number', "
            "'state')))"
        )
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=project,
            env=terminal.env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.splitlines()[-1] == (
            "delivered Hello from mysite [('+393471234567', 'DLVRD')]"
        )
        url = f"http://127.0.0.1:{terminal.port}/_sandbox/orders"
        with urllib.request.urlopen(url, timeout=5) as resp:
            orders = json.load(resp)["orders"]
        assert [o["message"] for o in orders] == ["Hello from mysite"]
    finally:
        terminal.stop()
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_first_hour_from_a_fresh_virtualenv(tmp_path: Path) -> None:
    """The same with the install block too: a new virtual environment, ``pip install -e``
    of this checkout (dependencies from the package index), then everything else."""
    terminal = follow_guide(GUIDES["en"], tmp_path, install=True)
    terminal.stop()
    assert (tmp_path / "venv" / "bin" / "django-admin").exists()
