"""Large inputs (issue 20 item 9): a personalised audience is validated in linear time (the
speed itself is shown by ``bench/validation.py``, not asserted here: only counts), and
``send_sms --csv`` refuses a file too large to read or a header with a repeated column,
with a message a person understands and nothing written."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from django_smsrest import segments, validation
from django_smsrest.management import cli
from django_smsrest.models import SmsMessage

pytestmark = pytest.mark.django_db

TEMPLATE = "Ciao ${name}, a domani"
ROOT = Path(__file__).resolve().parent.parent


def _maps(n: int) -> list[dict[str, str]]:
    return [{"recipient": f"+39347{i:06d}9", "name": f"N{i}"} for i in range(n)]


def test_each_personalised_text_is_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One segment count per recipient's text (it was two: one to check the length, one
    for the credits)."""
    calls = 0
    real = segments.count_segments

    def counting(text: str) -> Any:
        nonlocal calls
        calls += 1
        return real(text)

    monkeypatch.setattr(segments, "count_segments", counting)
    sms = validation.validate_sms(TEMPLATE, _maps(50))
    assert sms.credits == 50 and len(sms.recipients) == 50
    assert calls == 50


def test_a_repeated_personalised_number_is_still_named() -> None:
    maps = [*_maps(3), {"recipient": "+39 347 000001 9", "name": "again"}]
    with pytest.raises(ValidationError) as info:
        validation.validate_sms(TEMPLATE, maps)
    assert "+393470000019 appears twice." in info.value.message_dict["recipients"]


def test_unsendable_characters_are_exactly_controls_and_surrogates() -> None:
    """The one-regex scan finds what the two category lookups per character found: Cc less
    line breaks and tab, and Cs, over every code point."""
    every = "".join(chr(cp) for cp in range(0x110000))
    expected = [
        ch
        for ch in every
        if unicodedata.category(ch) == "Cs"
        or (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")
    ]
    assert validation._unsendable_characters(every) == expected


# --- send_sms --csv ------------------------------------------------------------------------


def _command(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    try:
        call_command("send_sms", *argv, stdout=io.StringIO(), stderr=err)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, err.getvalue()


def test_a_repeated_column_name_is_refused(tmp_path: Path) -> None:
    sheet = tmp_path / "twice.csv"
    sheet.write_text("recipient,name,Name, name\n+393471234567,Anna,Bea,Carla\n")
    code, err = _command("--csv", str(sheet), "Ciao ${name}")
    assert code == 2, err
    assert "the column “name” appears 2 times in the header" in err
    assert not SmsMessage.objects.exists()


def test_a_file_over_the_limit_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "MAX_CSV_BYTES", 64)
    sheet = tmp_path / "big.csv"
    sheet.write_text("recipient,name\n" + "+393471234567,Anna\n" * 4)  # 15 + 4 x 19 bytes
    code, err = _command("--csv", str(sheet), "Ciao ${name}")
    assert code == 2, err
    assert "larger than 64 bytes, the limit of --csv" in err
    assert not SmsMessage.objects.exists()
    sheet.write_text("recipient,name\n+393471234567,Anna\n")  # under the limit: read
    assert cli.read_csv(str(sheet)) == [{"recipient": "+393471234567", "name": "Anna"}]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_fails_fast_with_the_limit() -> None:
    """A file with no newline and no end (the issue's run grew to 23 GB) stops at the
    limit: the command exits 2 naming it, in a fresh process like a person's shell."""
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "send_sms",
            "--csv",
            "/dev/zero",
            "--dry-run",
            "Ciao ${name}",
            "--settings=tests.settings",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    limit = f"{cli.MAX_CSV_BYTES // (1024 * 1024)} MB"
    assert f"/dev/zero is larger than {limit}, the limit of --csv" in proc.stderr
    assert time.monotonic() - start < 60  # bounded; unbounded it never returned
