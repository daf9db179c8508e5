"""Abuse limits for login codes (issue 22, item 5): per number and project-wide, refused
before anything is written, atomic across processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from django_smsrest import ratelimit, services, signals
from django_smsrest.conf import build_settings
from django_smsrest.exceptions import SmsRestConfigurationError
from django_smsrest.limits import Limit, RateLimits, parse_rate_limits
from django_smsrest.models import CodeRateCounter, SmsMessage
from django_smsrest.testing import outbox as outbox_helpers
from tests.reliability import REPO, own_database, using_postgres, worker_env
from tests.settings import SMSREST

sms_outbox = outbox_helpers.sms_outbox

A, B, C = "+393471234567", "+393471234568", "+393471234569"


def limits(**value: Any) -> Any:
    return override_settings(SMSREST={**SMSREST, "RATE_LIMITS": value})


def code(i: int) -> tuple[str, str]:
    digits = f"{i:06d}"
    return f"Il tuo codice è {digits}", digits


@pytest.fixture
def refusals():
    calls: list[dict[str, Any]] = []

    def record(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    signals.code_rate_limited.connect(record, dispatch_uid="test-rate")
    yield calls
    signals.code_rate_limited.disconnect(dispatch_uid="test-rate")


@pytest.mark.django_db
@limits(CODES_PER_NUMBER=["2/hour"], CODES=[])
def test_over_the_per_number_limit_nothing_is_written_or_sent(sms_outbox, refusals):
    for i in range(2):
        services.send_code(*code(i)[:1], A, code=code(i)[1])
    with pytest.raises(services.CodeRateLimited) as exc:
        services.send_code(code(9)[0], A, code=code(9)[1])
    assert exc.value.code == "rate_limited"
    assert "Too many login codes were sent to +393471234567 (at most 2/hour)" in str(exc.value)
    assert isinstance(exc.value, ValidationError)  # forms show it as is
    assert SmsMessage.objects.count() == 2 and len(sms_outbox) == 2
    assert CodeRateCounter.objects.get(key=A).count == 2  # the refusal took nothing
    assert [(r["recipient"], r["scope"], r["limit"]) for r in refusals] == [
        (A, "number", Limit(2, 3600))
    ]
    # Another number has its own count.
    services.send_code(code(3)[0], B, code=code(3)[1])
    assert len(sms_outbox) == 3


@pytest.mark.django_db
@limits(CODES_PER_NUMBER=[], CODES=["3/minute"])
def test_the_project_wide_limit(sms_outbox, refusals):
    for i, number in enumerate((A, B, C)):
        services.send_code(code(i)[0], number, code=code(i)[1])
    with pytest.raises(services.CodeRateLimited) as exc:
        services.send_code(code(5)[0], "+393471234560", code=code(5)[1])
    assert "for the whole site" in str(exc.value)
    assert refusals[0]["scope"] == "total"
    assert SmsMessage.objects.count() == 3


@pytest.mark.django_db
@limits(CODES_PER_NUMBER=["1/hour"], CODES=["10/minute"])
def test_bad_input_takes_nothing_from_the_limits(sms_outbox):
    with pytest.raises(ValidationError):
        services.send_code("no code here", A, code="123456")
    assert not CodeRateCounter.objects.exists()
    services.send_code(code(1)[0], A, code=code(1)[1])  # the one allowed


@pytest.mark.django_db
def test_plain_messages_are_not_limited(sms_outbox):
    with limits(CODES_PER_NUMBER=["1/hour"], CODES=["1/minute"]):
        for _ in range(3):
            services.send_sms("Ciao", [A])
    assert len(sms_outbox) == 3


@pytest.mark.django_db
def test_windows_are_fixed_and_the_next_one_starts_afresh():
    rules = RateLimits(per_number=(Limit(1, 3600),))
    now = timezone.now().replace(minute=10)
    ratelimit.consume([A], rules, now)
    with pytest.raises(ratelimit.Exceeded) as exc:
        ratelimit.consume([A], rules, now + timedelta(minutes=5))
    assert exc.value.retry_at == now.replace(minute=0, second=0, microsecond=0) + timedelta(
        hours=1
    )
    ratelimit.consume([A], rules, now + timedelta(hours=1))  # the next window
    assert ratelimit.prune(now + timedelta(days=3)) == 2


def test_the_setting_is_checked_and_names_the_key():
    assert parse_rate_limits(None)[0] == RateLimits()
    assert parse_rate_limits({"CODES_PER_NUMBER": ["5/hour", (10, 86400)]})[0] == RateLimits(
        per_number=(Limit(5, 3600), Limit(10, 86400))
    )
    for bad in ({"CODES_PER_NUMBER": ["5/fortnight"]}, {"PER_IP": ["1/day"]}, "5/hour"):
        with pytest.raises(SmsRestConfigurationError) as exc:
            build_settings({**SMSREST, "RATE_LIMITS": bad})
        assert "SMSREST['RATE_LIMITS']" in str(exc.value)


WORKER = """
import json, os, time
from django_smsrest import services
time.sleep(max(0.0, float(os.environ["START_AT"]) - time.time()))
sent = refused = 0
for i in range(5):
    text = f"Il tuo codice è {os.getpid() % 1000:03d}{i:03d}"
    try:
        services.send_code(text, "+393471234567", code=text[-6:])
        sent += 1
    except services.CodeRateLimited:
        refused += 1
print(json.dumps([sent, refused]))
"""


@pytest.mark.slow
def test_the_limit_holds_across_processes():
    """Four processes ask for 20 codes to one number at the same moment: exactly the 7 the
    limit allows go out, on the database every process shares."""
    kind = "postgres" if using_postgres() else "sqlite"
    smsrest = {"RATE_LIMITS": {"CODES_PER_NUMBER": ["7/hour"], "CODES": None}}
    with own_database(kind) as db:
        env = {**worker_env(db, smsrest), "START_AT": str(time.time() + 4)}
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "django", "shell", "-c", WORKER],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        count = subprocess.run(
            [
                sys.executable,
                "-m",
                "django",
                "shell",
                "-c",
                "from django_smsrest.models import SmsMessage as M; print(M.objects.count())",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert sum(sent for sent, _ in results) == 7
    assert sum(refused for _, refused in results) == 13
    assert int(count.strip().splitlines()[-1]) == 7
