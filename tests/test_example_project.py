"""The example project, from the outside: its own test suite, ``manage.py`` and the demo.

Each test runs real subprocesses with the example project's settings (the main suite's
settings are ``tests.settings``, so the example apps cannot be tested in-process here).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example_project"
MANAGE = EXAMPLE / "manage.py"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    # A throw-away database; never the developer's example_project/db.sqlite3.
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'example.sqlite3'}"
    env.update(extra)
    return env


def _run(
    argv: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_example_project_own_tests_pass(tmp_path: Path) -> None:
    done = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--ds=example_project.settings",
            str(EXAMPLE / "tests"),
        ],
        _env(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout


def test_manage_py_check_and_migrations_are_complete(tmp_path: Path) -> None:
    env = _env(tmp_path)
    done = _run([sys.executable, str(MANAGE), "check"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    done = _run(
        [sys.executable, str(MANAGE), "makemigrations", "--check", "--dry-run",
         "sms_demo", "appointments"],
        env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_example_sqlite_runs_in_wal_with_immediate_transactions(tmp_path: Path) -> None:
    """The web process, the worker and the commands write at once: WAL, NORMAL sync,
    IMMEDIATE transactions and a busy timeout, on a real file database."""
    code = (
        "from django.db import connection; c = connection.cursor(); "
        "print(c.execute('PRAGMA journal_mode').fetchone()[0], "
        "c.execute('PRAGMA synchronous').fetchone()[0], "
        "connection.settings_dict['OPTIONS']['transaction_mode'])"
    )
    done = _run([sys.executable, str(MANAGE), "shell", "-c", code], _env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "wal 1 IMMEDIATE"  # synchronous 1 = NORMAL


def test_send_sms_from_the_real_command_line_exit_codes(tmp_path: Path) -> None:
    env = _env(tmp_path)
    bad_number = _run([sys.executable, str(MANAGE), "send_sms", "--to", "+39 123", "Hi"], env)
    assert bad_number.returncode == 2
    assert "--to: " in bad_number.stderr
    unknown_flag = _run([sys.executable, str(MANAGE), "send_sms", "--bogus"], env)
    assert unknown_flag.returncode == 2
    assert "unrecognized arguments: --bogus" in unknown_flag.stderr
    dry = _run(
        [sys.executable, str(MANAGE), "send_sms", "--to", "+393471234567", "--dry-run", "Hi"],
        env,
    )
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: nothing was sent." in dry.stdout


def test_settings_read_the_environment_and_never_show_the_password(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        SMSREST_USERNAME="someone",
        SMSREST_PASSWORD="pw-from-env-123",
        SMSREST_BASE_URL="https://gateway.example/API/v1.0/REST/",
    )
    code = (
        "from django.conf import settings; from django.views.debug import get_default_exception_"
        "reporter_filter as f; s = settings.SMSREST; "
        "print(s['USERNAME'], s['BASE_URL'], s['PASSWORD'] == 'pw-from-env-123'); "
        "print(f().get_safe_settings()['SMSREST'])"
    )
    done = _run([sys.executable, str(MANAGE), "shell", "-c", code], env)
    assert done.returncode == 0, done.stderr
    # (Django >= 5.2's shell may first print a line about its automatic imports.)
    lines = done.stdout.splitlines()
    first, second = lines[-2:]
    assert first == "someone https://gateway.example/API/v1.0/REST/ True"
    assert "pw-from-env-123" not in second  # Django's error pages hide it


def test_demo_check_end_to_end(tmp_path: Path) -> None:
    """``make demo`` with ``--check``: sandbox + runserver + worker, one SMS by the command
    and one through the web form, both verified in the sandbox; the worker (nothing else
    looks at it) takes the first to DELIVERED and the page of the second stops reloading
    at Delivered; children stopped, exit 0."""
    done = _run([sys.executable, str(EXAMPLE / "demo.py"), "--check"], _env(tmp_path), 180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Starting the worker: manage.py send_sms --loop" in done.stdout
    assert re.search(r"The worker took SMS #1 to DELIVERED in [0-9.]+ s\.", done.stdout)
    assert "The example page shows Delivered and stopped reloading." in done.stdout
    assert (
        "Check passed: both SMS reached the sandbox exactly once and were delivered."
        in done.stdout
    )


def _cmdline(pid: int) -> str | None:
    """The command line of a live (not zombie) process, ``None`` when it is gone."""
    try:
        if (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) == "Z":
            return None
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return None


def _descendants(root: int) -> dict[int, str]:
    """Every live descendant of ``root``: pid -> command line (Linux /proc)."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces, so split after the ")".
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        parents[int(entry.name)] = int(fields[1])
        commands[int(entry.name)] = cmdline
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = commands[pid]
                frontier.append(pid)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_demo_ctrl_c_stops_sandbox_web_and_worker(tmp_path: Path) -> None:
    """Ctrl-C reaches the demo alone (its children run in their own sessions); it stops the
    three children with their process groups and exits 0, leaving nothing behind."""
    with (tmp_path / "stderr.txt").open("w") as stderr:
        demo = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "demo.py")],
            cwd=REPO,
            env=_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
        try:
            assert demo.stdout is not None
            seen = []
            deadline = time.monotonic() + 90
            for line in demo.stdout:
                seen.append(line)
                if "Press Ctrl-C to stop." in line or time.monotonic() > deadline:
                    break
            assert "Press Ctrl-C to stop." in "".join(seen), "".join(seen)
            children = _descendants(demo.pid)
            commands = " | ".join(children.values())
            assert "-m django_smsrest.sandbox" in commands
            assert "runserver" in commands
            assert "send_sms --loop" in commands
            demo.send_signal(signal.SIGINT)
            assert demo.wait(timeout=20) == 0
            rest = demo.stdout.read()
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    assert "Stopping…" in rest
    left = {pid: cmd for pid, cmd in children.items() if _cmdline(pid) == cmd}
    assert left == {}
