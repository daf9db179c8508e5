"""The account-wide pause after a 429 (django_smsrest.throttle): one rate-limited send
holds every other send until its retry time; a person's "Send now" still goes; a broken or
missing cache never stops sending."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.cache.backends.base import BaseCache
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from django_smsrest import services, throttle
from django_smsrest.backends import locmem
from django_smsrest.checks import check_settings
from django_smsrest.conf import build_settings
from django_smsrest.exceptions import RateLimited, SmsRestConfigurationError
from django_smsrest.models import SmsMessage, Status
from django_smsrest.testing import outbox as outbox_helpers
from tests.settings import SMSREST

sms_outbox = outbox_helpers.sms_outbox

pytestmark = pytest.mark.django_db

A = "+393471234567"


class BrokenCache(BaseCache):
    """A cache whose server is down: every call raises."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server down")

    set = add = delete = get


BROKEN_CACHES = {"default": {"BACKEND": "tests.test_throttle.BrokenCache"}}


def queued(n: int) -> list[int]:
    return [services.queue_sms(f"n{i}", [A]).pk for i in range(n)]


def rate_limit_next(retry_after: float = 120) -> None:
    locmem.fail_next("send", RateLimited("HTTP 429", retry_after=retry_after))


def test_a_429_on_one_message_pauses_the_account(sms_outbox: list) -> None:
    first, second = queued(2)
    rate_limit_next(120)
    before = timezone.now()
    hit = services.send_message(first)
    assert hit is not None and hit.status == Status.QUEUED
    until = throttle.sending_paused_until()
    # The pause ends when the rate-limited message is retried: at least Retry-After.
    assert until == hit.next_attempt_at
    assert until >= before + timedelta(seconds=120)

    # Message B: no claim, no POST; its next attempt moves to the end of the pause.
    assert services.send_message(second) is None
    assert locmem.calls("send") == 1
    other = SmsMessage.objects.get(pk=second)
    assert (other.status, other.attempts, other.next_attempt_at) == (Status.QUEUED, 0, until)

    # An earlier planned attempt is moved; a later one is left alone.
    later = until + timedelta(hours=1)
    SmsMessage.objects.filter(pk=second).update(next_attempt_at=later)
    assert services.send_message(second) is None
    assert SmsMessage.objects.get(pk=second).next_attempt_at == later


def test_send_now_by_a_person_still_sends_while_paused(sms_outbox: list) -> None:
    (pk,) = queued(1)
    throttle.pause_sending(timezone.now() + timedelta(minutes=5))
    assert services.send_message(pk) is None
    msg = services.send_message(pk, force=True)
    assert msg is not None and msg.status == Status.SENT
    assert len(sms_outbox) == 1


def test_flush_stops_at_once_after_a_429(sms_outbox: list) -> None:
    pks = queued(5)
    rate_limit_next(60)
    report = services.flush_queue()
    assert report.stopped_early
    assert report.paused_until == throttle.sending_paused_until()
    assert report.by_status == {Status.QUEUED: 1}
    assert locmem.calls("send") == 1
    untouched = SmsMessage.objects.filter(pk__in=pks[1:], attempts=0, status=Status.QUEUED)
    assert untouched.count() == 4


def test_flush_while_paused_posts_nothing(sms_outbox: list) -> None:
    pks = queued(3)
    throttle.pause_sending(timezone.now() + timedelta(minutes=5))
    seen: list[int] = []
    report = services.flush_queue(on_progress=lambda pk, msg: seen.append(pk))
    assert report.stopped_early and report.paused_until is not None
    assert report.attempted == 0 and seen == []
    assert locmem.calls("send") == 0
    assert SmsMessage.objects.filter(pk__in=pks, attempts=0, next_attempt_at=None).count() == 3


def test_flush_command_says_the_account_is_paused(sms_outbox: list) -> None:
    queued(2)
    throttle.pause_sending(timezone.now() + timedelta(minutes=5))
    with pytest.raises(CommandError, match=r"Stopped early.*HTTP 429.*paused until") as caught:
        call_command("send_sms", "--flush", "--quiet")
    assert caught.value.returncode == 1
    assert locmem.calls("send") == 0


def test_sending_resumes_when_the_pause_ends(
    sms_outbox: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, _third = queued(3)
    rate_limit_next(120)
    services.send_message(first)
    assert services.send_message(second) is None
    until = throttle.sending_paused_until()
    assert until is not None

    # Time passes: the pause is over (whatever the cache still holds) and the queue moves.
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=130))
    assert throttle.sending_paused_until() is None
    report = services.flush_queue()
    assert not report.stopped_early
    assert report.by_status == {Status.SENT: 3}
    monkeypatch.undo()

    # Or someone lifts it by hand: what was not deferred meanwhile goes at once (a message
    # deferred during the pause waits for its new next_attempt_at, or a "Send now").
    fourth, fifth = queued(2)
    throttle.pause_sending(timezone.now() + timedelta(minutes=5))
    assert services.send_message(fourth) is None
    throttle.clear_pause()
    assert services.send_message(fourth) is None  # deferred: not due yet
    msg = services.send_message(fifth)
    assert msg is not None and msg.status == Status.SENT


def test_the_later_pause_wins() -> None:
    now = timezone.now()
    throttle.pause_sending(now + timedelta(seconds=60))
    throttle.pause_sending(now + timedelta(seconds=30))
    assert throttle.sending_paused_until(now) == now + timedelta(seconds=60)
    throttle.pause_sending(now + timedelta(seconds=90))
    assert throttle.sending_paused_until(now) == now + timedelta(seconds=90)
    throttle.pause_sending(now - timedelta(seconds=10))  # already past: nothing
    assert throttle.sending_paused_until(now) == now + timedelta(seconds=90)
    assert throttle.sending_paused_until(now + timedelta(seconds=91)) is None
    throttle.clear_pause()
    assert throttle.sending_paused_until(now) is None


def test_a_broken_cache_never_stops_sending(
    sms_outbox: list, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(CACHES=BROKEN_CACHES):
        first, second, _third = queued(3)
        rate_limit_next(120)
        with caplog.at_level(logging.WARNING, logger="django_smsrest"):
            hit = services.send_message(first)  # the pause cannot be stored: logged
        assert hit is not None and hit.status == Status.QUEUED
        assert "Could not store the sending pause" in caplog.text
        assert throttle.sending_paused_until() is None
        throttle.clear_pause()  # logged, not raised
        msg = services.send_message(second)
        assert msg is not None and msg.status == Status.SENT
        report = services.flush_queue()
        assert report.by_status == {Status.SENT: 1} and not report.stopped_early
        assert services.sweep().paused_until is None


def test_sweep_does_not_re_enqueue_while_paused_but_still_reconciles(sms_outbox: list) -> None:
    *_due, unknown = queued(3)
    # A message whose outcome is unknown: the gateway never got it (404 on the GET).
    SmsMessage.objects.filter(pk=unknown).update(status=Status.UNKNOWN, attempts=1)
    throttle.pause_sending(timezone.now() + timedelta(minutes=5))
    report = services.sweep()
    assert report.enqueued == 0 and report.paused_until is not None
    assert report.reconciled == {Status.QUEUED: 1}
    assert locmem.calls("get_order") == 1 and locmem.calls("send") == 0

    throttle.clear_pause()
    report = services.sweep()  # no task worker: the sweep sends them itself
    assert report.paused_until is None and report.sent == {Status.SENT: 2}


def test_sweep_command_shows_the_pause(sms_outbox: list) -> None:
    from io import StringIO

    out = StringIO()
    call_command("send_sms", "--sweep", stdout=out)
    assert "paused until" not in out.getvalue()
    throttle.pause_sending(timezone.now() + timedelta(minutes=5))
    call_command("send_sms", "--sweep", stdout=out)
    assert "sending paused until " in out.getvalue()


@pytest.mark.parametrize("value", ["", 3, None])
def test_cache_setting_must_be_an_alias(value: object) -> None:
    with pytest.raises(SmsRestConfigurationError, match=r"SMSREST\['CACHE'\]"):
        build_settings({"CACHE": value})
    assert build_settings({"CACHE": "shared"}).cache == "shared"
    assert build_settings(None).cache == "default"


def test_unknown_cache_alias_is_a_system_check_error() -> None:
    assert not [m for m in check_settings() if m.id == "django_smsrest.E004"]
    with override_settings(SMSREST={**SMSREST, "CACHE": "redis"}):
        errors = [m for m in check_settings() if m.id == "django_smsrest.E004"]
    assert len(errors) == 1
    assert "SMSREST['CACHE'] is 'redis'" in errors[0].msg and "CACHES" in errors[0].msg


def test_unknown_cache_alias_at_use_time_is_logged_and_sending_goes_on(
    sms_outbox: list, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "_reported", set())
    with override_settings(SMSREST={**SMSREST, "CACHE": "redis"}):
        first, second = queued(2)
        rate_limit_next(120)
        with caplog.at_level(logging.ERROR, logger="django_smsrest"):
            services.send_message(first)
        assert "SMSREST['CACHE'] is 'redis'" in caplog.text
        msg = services.send_message(second)
        assert msg is not None and msg.status == Status.SENT


def test_the_pause_is_in_the_configured_cache(sms_outbox: list) -> None:
    from django.core.cache import caches

    caches_setting = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "smsrest-throttle-test",
        },
    }
    with override_settings(CACHES=caches_setting, SMSREST={**SMSREST, "CACHE": "shared"}):
        until = timezone.now() + timedelta(minutes=5)
        throttle.pause_sending(until)
        stored = caches["shared"].get(throttle.CACHE_KEY)
        assert isinstance(stored, datetime) and stored == until
        assert caches["default"].get(throttle.CACHE_KEY) is None
        throttle.clear_pause()
        assert caches["shared"].get(throttle.CACHE_KEY) is None
