"""Several flushers on one queue: a lost claim costs one re-read, not one failed claim per
message that the other workers already took."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_smsrest import services
from django_smsrest.models import SmsMessage, Status
from django_smsrest.testing.outbox import sms_outbox  # noqa: F401 (fixture)
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db


# CONCURRENCY 1 is the same engine as any other (one request in flight): a claim takes a
# few due messages in one statement, so what another worker claimed meanwhile is simply
# not matched (tests/test_batch_flush.py covers the collisions with more in flight).
@override_settings(SMSREST={**SMSREST, "CONCURRENCY": 1})
def test_after_another_worker_claimed_the_flusher_skips_what_it_took(sms_outbox: list) -> None:  # noqa: F811
    from django_smsrest.outbox import batch

    per_claim = batch.CLAIM_PER_REQUEST  # x CONCURRENCY 1
    queued = [services.queue_sms("Hello", ["+393471234567"]).pk for _ in range(3 * per_claim)]
    taken = queued[per_claim : 2 * per_claim]

    def another_worker_claims_the_middle(pk: int, msg: SmsMessage | None) -> None:
        if pk == queued[0]:
            SmsMessage.objects.filter(pk__in=taken).update(
                status=Status.SENDING, claim_token="b" * 32
            )

    with CaptureQueriesContext(connection) as ctx:
        report = services.flush_queue(on_progress=another_worker_claims_the_middle)

    assert report.by_status == {Status.SENT: 2 * per_claim}
    assert report.skipped == 0  # never claimed, so nothing to skip
    claims = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("UPDATE") and "claim_token" in q["sql"] and "attempts" in q["sql"]
    ]
    assert len(claims) == 3  # the first batch, the last batch, one that found nothing
    assert len(sms_outbox) == 2 * per_claim
    assert set(SmsMessage.objects.filter(pk__in=taken).values_list("claim_token", flat=True)) == {
        "b" * 32
    }


def test_a_single_flusher_keeps_the_queue_order(sms_outbox: list) -> None:  # noqa: F811
    queued = [services.queue_sms(f"n{i}", ["+393471234567"]).pk for i in range(5)]
    seen: list[int] = []
    services.flush_queue(on_progress=lambda pk, msg: seen.append(pk))
    assert seen == queued


def test_a_flush_gives_way_when_the_gateway_keeps_refusing(sms_outbox: list) -> None:  # noqa: F811
    from django_smsrest.backends import locmem
    from django_smsrest.exceptions import GatewayConnectionError

    for _ in range(6):
        services.queue_sms("Hello", ["+393471234567"])
    # A blip on the first message does not stop the flush...
    locmem.fail_next("send", GatewayConnectionError("connection refused"))
    report = services.flush_queue()
    assert not report.stopped_early and report.by_status == {Status.QUEUED: 1, Status.SENT: 5}

    # ...but three refusals in a row do: the rest would only burn their attempts. (A 429
    # stops it at once: the account is paused, see tests/test_throttle.py.)
    more = [services.queue_sms("Hello", ["+393471234567"]).pk for _ in range(5)]
    for _ in range(3):
        locmem.fail_next("send", GatewayConnectionError("connection refused"))
    report = services.flush_queue()
    assert report.stopped_early
    assert report.by_status == {Status.QUEUED: 3}
    assert locmem.calls("send") == 6 + 3  # the last two of `more` were not tried
    untouched = SmsMessage.objects.filter(pk__in=more[3:], attempts=0, status=Status.QUEUED)
    assert untouched.count() == 2


def test_the_flush_command_exits_1_when_it_gives_way(sms_outbox: list) -> None:  # noqa: F811
    from django.core.management import CommandError, call_command

    from django_smsrest.backends import locmem
    from django_smsrest.exceptions import GatewayConnectionError

    for _ in range(4):
        services.queue_sms("Hello", ["+393471234567"])
    for _ in range(3):
        locmem.fail_next("send", GatewayConnectionError("connection refused"))
    with pytest.raises(CommandError, match="Stopped early") as caught:
        call_command("send_sms", "--flush", "--quiet")
    assert caught.value.returncode == 1
    assert SmsMessage.objects.filter(status=Status.QUEUED, next_attempt_at=None).count() == 1
    # Attempts that reached no gateway do not count against MAX_ATTEMPTS.
    assert set(SmsMessage.objects.values_list("attempts", flat=True)) == {0}
