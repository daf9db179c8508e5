"""Reading back what a run of the services left behind, for the person who started it.

The reports of :mod:`.queue` count outcomes; a count does not say *why* messages went back
to the queue. :func:`retry_reasons` reads it from the rows, so that a command can say "the
gateway is unreachable: <its error>" instead of a bare number.
"""

from __future__ import annotations

from datetime import datetime

from django_smsrest.models import SmsMessage, Status


def retry_reasons(since: datetime, *, limit: int = 3) -> list[str]:
    """The distinct ``last_error`` texts of the messages put back in the queue (surely not
    sent, to be retried) since ``since``, newest first, at most ``limit`` of them.

    One query on the open rows (status index), never the history."""
    reasons: list[str] = []
    rows = (
        SmsMessage.objects.filter(status=Status.QUEUED, updated_at__gte=since)
        .exclude(last_error="")
        .order_by("-updated_at", "-pk")
        .values_list("last_error", flat=True)[: limit * 10]
    )
    for text in rows:
        if text not in reasons:
            reasons.append(text)
        if len(reasons) == limit:
            break
    return reasons
