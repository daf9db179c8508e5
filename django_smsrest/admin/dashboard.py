"""The admin dashboard: how the last 30 days went, what is waiting, when credits run out.

One aggregate query per figure, whatever the number of rows (five in all, plus the
session and user lookups):

1. messages per day by outcome (``TruncDate`` + filtered ``Count``), which also gives the
   delivery rate;
2. the time from sending to delivery of the latest :data:`MEDIAN_SAMPLE` delivered
   messages (a bounded sample: a portable SQL median is not cheap on SQLite);
3. the ten most frequent failure reasons (``last_error``), each linking to the changelist
   filtered on it;
4. the queue: how many are waiting, how many are due, the oldest due one;
5. remaining credits per day and message type (the lowest value reported that day,
   ``remaining_credits`` by ``sent_at``), with a "runs out around" estimate from the slope
   of the last :data:`RATE_DAYS` days.

The outcome buckets are unions of :mod:`django_smsrest.lifecycle` sets; none is defined
here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min, Q
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from django_smsrest import lifecycle
from django_smsrest.admin import charts, consent
from django_smsrest.admin.changelist import EMPTY_ERROR
from django_smsrest.admin.common import may_view_messages
from django_smsrest.models import SmsMessage, Status
from django_smsrest.outbox import due_q

#: How many days the dashboard covers.
DAYS = 30
#: Delivered messages whose sending-to-delivery time makes the median.
MEDIAN_SAMPLE = 1000
#: Failure reasons listed.
TOP_REASONS = 10
#: Days of credit history the "runs out around" slope is fitted on.
RATE_DAYS = 7

# Outcome buckets, in stacking order, from the lifecycle's sets.
DELIVERED = lifecycle.FINAL - lifecycle.FAILED_OUTCOMES - {Status.CANCELLED}
AWAITING_RECEIPT = lifecycle.POLLABLE
PENDING = lifecycle.IN_FLIGHT
FAILED = lifecycle.FAILED_OUTCOMES
CANCELLED = frozenset({Status.CANCELLED})

_COLOURS = {
    "delivered": "#15803d",
    "sent": "#0e7490",
    "pending": "#6b7280",
    "failed": "#b91c1c",
    "cancelled": "#a8a29e",
}
_CREDIT_COLOURS = ("#7c3aed", "#0e7490", "#ca8a04", "#15803d", "#b91c1c")


def _outcome_series() -> list[tuple[charts.Series, frozenset[str]]]:
    return [
        (charts.Series("delivered", _("delivered"), _COLOURS["delivered"]), DELIVERED),
        (charts.Series("sent", _("awaiting receipt"), _COLOURS["sent"]), AWAITING_RECEIPT),
        (charts.Series("pending", _("pending"), _COLOURS["pending"]), PENDING),
        (charts.Series("failed", _("failed"), _COLOURS["failed"]), FAILED),
        (charts.Series("cancelled", _("cancelled"), _COLOURS["cancelled"]), CANCELLED),
    ]


@dataclass
class Dashboard:
    """Everything the page shows; built by :func:`build` with a constant number of queries."""

    first: date
    last: date
    days: list[date]
    per_day: dict[date, dict[str, int]]
    totals: dict[str, int]
    delivery_rate: float | None
    median_delivery: timedelta | None
    median_sample: int
    reasons: list[dict[str, Any]]
    queue: dict[str, Any]
    credits: dict[str, list[tuple[date, int]]]
    runs_out: dict[str, date | None]


def build(
    now: datetime | None = None, changelist_url: str = "", purpose: str | None = None
) -> Dashboard:
    """Read the figures (five queries, and one for what ``cleanup_sms`` purged);
    ``purpose``: only the messages of that purpose
    (``"marketing"``, ``"transactional"``), ``None`` for all."""
    now = now or timezone.now()
    last = timezone.localdate(now)
    first = last - timedelta(days=DAYS - 1)
    since = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    every = SmsMessage.objects.filter(purpose=purpose) if purpose else SmsMessage.objects.all()
    recent = every.filter(created_at__gte=since).order_by()

    # 1. Per day by outcome.
    buckets = _outcome_series()
    rows = (
        recent.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(**{s.key: Count("pk", filter=Q(status__in=statuses)) for s, statuses in buckets})
    )
    per_day = {
        row["day"]: {s.key: row[s.key] for s, _ in buckets}  # type: ignore[literal-required]
        for row in rows
    }
    # What cleanup_sms purged (issue 23): its daily tallies count as the rows did.
    purged = consent.purged_tallies(first, purpose)
    consent.add_purged_counts(per_day, purged, buckets)
    totals = {s.key: sum(d[s.key] for d in per_day.values()) for s, _ in buckets}
    settled = totals["delivered"] + totals["failed"]
    rate = totals["delivered"] / settled if settled else None

    # 2. Median time to delivery, over a bounded sample of the latest deliveries.
    sample = list(
        recent.filter(status=Status.DELIVERED, sent_at__isnull=False, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("sent_at", "finished_at")[:MEDIAN_SAMPLE]
    )
    durations = [(done - sent).total_seconds() for sent, done in sample if sent and done]
    median_delivery = timedelta(seconds=round(median(durations))) if durations else None

    # 3. Failures by reason.
    reasons = [
        {
            "reason": row["last_error"],
            "count": row["n"],
            "url": _reasons_url(changelist_url, row["last_error"], since),
        }
        for row in recent.filter(status__in=FAILED)
        .values("last_error")
        .annotate(n=Count("pk"))
        .order_by("-n", "last_error")[:TOP_REASONS]
    ]

    # 4. The queue.
    due = Q(status__in=lifecycle.SENDABLE) & due_q(now)
    # Only the open rows (status index), never the whole history.
    queue = (
        every.filter(status__in=PENDING)
        .order_by()
        .aggregate(
            waiting=Count("pk", filter=Q(status__in=lifecycle.SENDABLE)),
            due=Count("pk", filter=due),
            in_flight=Count("pk", filter=Q(status__in=PENDING - lifecycle.SENDABLE)),
            oldest_due=Min("created_at", filter=due),
        )
    )
    if queue["oldest_due"] is not None:
        queue["oldest_due_age"] = now - queue["oldest_due"]

    # 5. Remaining credits per day and type.
    credits: dict[str, list[tuple[date, int]]] = {}
    # sent_at has no index; created_at has, and a message is sent soon after it is created
    # (retries give up within hours), so the created_at bound keeps this off the history.
    credit_rows = (
        every.filter(
            created_at__gte=since - timedelta(days=DAYS),
            sent_at__gte=since,
            remaining_credits__isnull=False,
        )
        .order_by()
        .annotate(day=TruncDate("sent_at"))
        .values("day", "message_type")
        .annotate(low=Min("remaining_credits"))
        .order_by("message_type", "day")
    )
    for row in credit_rows:
        credits.setdefault(row["message_type"], []).append((row["day"], row["low"]))
    consent.add_purged_credits(credits, purged)
    runs_out = {mtype: _runs_out(points, last) for mtype, points in credits.items()}

    return Dashboard(
        first=first,
        last=last,
        days=[first + timedelta(days=i) for i in range(DAYS)],
        per_day=per_day,
        totals=totals,
        delivery_rate=rate,
        median_delivery=median_delivery,
        median_sample=len(durations),
        reasons=reasons,
        queue=queue,
        credits=credits,
        runs_out=runs_out,
    )


def _reasons_url(changelist_url: str, reason: str, since: datetime) -> str:
    # The changelist's own date filter parameter, with the offset (as its links have it).
    params = {
        "status__in": ",".join(sorted(FAILED)),
        "last_error": reason or EMPTY_ERROR,
        "created_at__gte": str(timezone.localtime(since)),
    }
    return f"{changelist_url}?{urlencode(params)}"


def _runs_out(points: list[tuple[date, int]], today: date) -> date | None:
    """When the credits reach zero at the rate of the last :data:`RATE_DAYS` days (a
    least-squares line through the daily lows); ``None`` if they are not going down."""
    recent = [(d, v) for d, v in points if (today - d).days < RATE_DAYS]
    if len(recent) < 2:
        return None
    xs = [(d - today).days for d, _ in recent]
    ys = [v for _, v in recent]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if not var:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    if slope >= 0:
        return None
    last_day, last_value = recent[-1]
    days_left = last_value / -slope
    if days_left > 3650:
        return None
    return last_day + timedelta(days=int(days_left))


def render_charts(board: Dashboard) -> dict[str, Any]:
    """The three SVG charts for the template."""
    series = [s for s, _ in _outcome_series()]
    total = sum(board.totals.values())
    bars = charts.stacked_bars(
        board.days,
        board.per_day,
        series,
        title=_("Messages per day by outcome, last %(days)d days") % {"days": DAYS},
        desc=ngettext("%(total)d message: %(detail)s.", "%(total)d messages: %(detail)s.", total)
        % {
            "total": total,
            "detail": ", ".join(f"{board.totals[s.key]} {s.label}" for s in series),
        },
    )
    reason_chart = charts.linked_bars(
        [(r["reason"] or _("(no error text)"), r["count"], r["url"]) for r in board.reasons],
        colour=_COLOURS["failed"],
        title=_("Failures by reason"),
        desc=_("The %(n)d most frequent reasons of failed or undelivered messages.")
        % {"n": len(board.reasons)},
    )
    credit_series = [
        charts.Series(mtype, mtype, _CREDIT_COLOURS[i % len(_CREDIT_COLOURS)])
        for i, mtype in enumerate(sorted(board.credits))
    ]
    credit_chart = charts.lines(
        board.credits,
        credit_series,
        board.first,
        board.last,
        title=_("Remaining credits by message type"),
        desc=_("The lowest remaining credits the gateway reported each day, per message type."),
    )
    return {"bars": bars, "reasons": reason_chart, "credits": credit_chart}


def duration_text(value: timedelta | None) -> str:
    """``"2 h 05 min"``, ``"3 min 20 s"``, ``"12 s"``, ``"3 d 4 h"``; empty for None."""
    if value is None:
        return ""
    seconds = max(int(value.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)d min %(s)02d s") % {"m": minutes, "s": seconds}
    return _("%(s)d s") % {"s": seconds}


class DashboardMixin(admin.ModelAdmin):
    """The dashboard view of :class:`~django_smsrest.admin.message.SmsMessageAdmin`."""

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """The dashboard (view permission; 403 without it)."""
        if not may_view_messages(request):
            raise PermissionDenied
        changelist = reverse(f"{self.admin_site.name}:django_smsrest_smsmessage_changelist")
        purpose = consent.chosen_purpose(request)
        board = build(changelist_url=changelist, purpose=purpose)
        series = [s for s, _ in _outcome_series()]
        context = {
            **self.admin_site.each_context(request),
            "title": _("SMS dashboard"),
            "opts": self.opts,
            "board": board,
            "charts": render_charts(board),
            "series": series,
            "day_rows": [
                {"day": day, "values": [board.per_day.get(day, {}).get(s.key, 0) for s in series]}
                for day in board.days
            ],
            "total": sum(board.totals.values()),
            "rate_percent": (
                formats.number_format(board.delivery_rate * 100, 1)
                if board.delivery_rate is not None
                else None
            ),
            "median_text": duration_text(board.median_delivery),
            "oldest_text": duration_text(board.queue.get("oldest_due_age")),
            "runs_out": sorted(board.runs_out.items()),
            "days": DAYS,
            "rate_days": RATE_DAYS,
            "changelist_url": changelist,
            "media": self.media,
            **consent.purpose_links(request, purpose),
        }
        return TemplateResponse(request, "django_smsrest/admin/dashboard.html", context)
