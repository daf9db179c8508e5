"""The admin dashboard: how the last 30 days went, what is waiting, when credits run out.

One aggregate query per figure, whatever the number of rows (five in all, plus the
session and user lookups):

1. messages per day by outcome (``TruncDate`` + filtered ``Count``), which also gives the
   delivery rate; a message scheduled for later is "scheduled", not "awaiting receipt";
2. the time from sending to delivery of the latest :data:`MEDIAN_SAMPLE` delivered
   messages (a bounded sample: a portable SQL median is not cheap on SQLite);
3. the ten most frequent failure reasons (``last_error``, or for an undelivered message
   without one, the failure state its recipients reported), each linking to the changelist
   filtered on it;
4. the queue: how many are waiting, how many are due, the oldest due one;
5. remaining credits per day and message type (the lowest value reported that day,
   ``remaining_credits`` by ``sent_at``), with a "runs out around" estimate from the slope
   of the last :data:`RATE_DAYS` days (fitted on each day's first and last report, so that
   one day of sending already shows a trend).

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
from django.db.models import Case, Count, Max, Min, OuterRef, Q, Subquery, Value, When
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
from django_smsrest.admin.workers import workers_context
from django_smsrest.models import SmsMessage, SmsRecipient, Status
from django_smsrest.outbox import due_q
from django_smsrest.results import FAILURE_STATES, delivery_label

#: How many days the dashboard covers.
DAYS = 30
#: Delivered messages whose sending-to-delivery time makes the median.
MEDIAN_SAMPLE = 1000
#: Failure reasons listed.
TOP_REASONS = 10
#: Days of credit history the "runs out around" slope is fitted on.
RATE_DAYS = 7
#: Beyond this many days, "runs out around" says "not within ten years" instead of a date.
FAR_DAYS = 3650
#: The reports a trend is fitted on must span at least this long: two messages sent a
#: second apart would otherwise predict the end of the credits for tomorrow.
MIN_TREND_SPAN = timedelta(hours=1)

# Outcome buckets, in stacking order, from the lifecycle's sets.
DELIVERED = lifecycle.FINAL - lifecycle.FAILED_OUTCOMES - {Status.CANCELLED}
AWAITING_RECEIPT = lifecycle.POLLABLE
PENDING = lifecycle.IN_FLIGHT
FAILED = lifecycle.FAILED_OUTCOMES
CANCELLED = frozenset({Status.CANCELLED})
#: The series a purged (finished) message counts in, by its status: what cleanup_sms kept
#: of it is a tally per status, not a row the series' conditions could be asked of.
_STATUSES_OF_SERIES = {
    "delivered": DELIVERED,
    "sent": AWAITING_RECEIPT,
    "pending": PENDING,
    "failed": FAILED,
    "cancelled": CANCELLED,
}

_COLOURS = {
    "delivered": "#15803d",
    "sent": "#0e7490",
    "scheduled": "#7c3aed",
    "pending": "#6b7280",
    "failed": "#b91c1c",
    "cancelled": "#a8a29e",
}
_CREDIT_COLOURS = ("#7c3aed", "#0e7490", "#ca8a04", "#15803d", "#b91c1c")


def _outcome_series(now: datetime) -> list[tuple[charts.Series, Q]]:
    # SCHEDULED is "awaiting receipt" once its time has come; before, it is only planned.
    later = Q(status=Status.SCHEDULED, scheduled_delivery_time__gt=now)
    return [
        (
            charts.Series("delivered", _("delivered"), _COLOURS["delivered"]),
            Q(status__in=DELIVERED),
        ),
        (
            charts.Series("sent", _("awaiting receipt"), _COLOURS["sent"]),
            Q(status__in=AWAITING_RECEIPT) & ~later,
        ),
        (charts.Series("scheduled", _("scheduled for later"), _COLOURS["scheduled"]), later),
        (charts.Series("pending", _("pending"), _COLOURS["pending"]), Q(status__in=PENDING)),
        (charts.Series("failed", _("failed"), _COLOURS["failed"]), Q(status__in=FAILED)),
        (
            charts.Series("cancelled", _("cancelled"), _COLOURS["cancelled"]),
            Q(status__in=CANCELLED),
        ),
    ]


@dataclass(frozen=True)
class Trend:
    """Where one message type's credits are heading.

    ``going_down`` with ``when`` (the day they reach zero at that rate) or without it (not
    within :data:`FAR_DAYS`); not ``going_down`` and ``enough`` (flat or rising); not
    ``enough`` (the reports of the last :data:`RATE_DAYS` days span less than
    :data:`MIN_TREND_SPAN`).
    """

    enough: bool
    going_down: bool = False
    when: date | None = None


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
    runs_out: dict[str, Trend]


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
    buckets = _outcome_series(now)
    rows = (
        recent.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(**{s.key: Count("pk", filter=condition) for s, condition in buckets})
    )
    per_day = {
        row["day"]: {s.key: row[s.key] for s, _condition in buckets}  # type: ignore[literal-required]
        for row in rows
    }
    # What cleanup_sms purged (issue 23): its daily tallies count as the rows did.
    purged = consent.purged_tallies(first, purpose)
    consent.add_purged_counts(
        per_day,
        purged,
        [(s, _STATUSES_OF_SERIES.get(s.key, frozenset())) for s, _condition in buckets],
    )
    totals = {s.key: sum(d[s.key] for d in per_day.values()) for s, _condition in buckets}
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

    # 3. Failures by reason: the error text, or for a message that failed at the operator
    # (UNDELIVERED, no text) the first failure state among its recipients.
    failing_state = Subquery(
        SmsRecipient.objects.filter(
            message_id=OuterRef("pk"), state__in=[state.value for state in FAILURE_STATES]
        )
        .order_by("state")
        .values("state")[:1]
    )
    reasons = [
        {
            "reason": row["last_error"],
            "state": row["state"] or "",
            "label": row["last_error"]
            or (delivery_label(row["state"]) if row["state"] else _("(no error text)")),
            "count": row["n"],
            "url": _reasons_url(changelist_url, row["last_error"], row["state"] or "", since),
        }
        for row in recent.filter(status__in=FAILED)
        .annotate(state=Case(When(last_error="", then=failing_state), default=Value("")))
        .values("last_error", "state")
        .annotate(n=Count("pk"))
        .order_by("-n", "last_error", "state")[:TOP_REASONS]
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

    # 5. Remaining credits per day and type: the day's low for the chart; for the trend,
    # each day's low at its last report, and where the period starts its first report's
    # (highest) value too, so that a single day of sending already has a slope.
    credits: dict[str, list[tuple[date, int]]] = {}
    reports: dict[str, list[_DayOfCredits]] = {}
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
        .annotate(
            low=Min("remaining_credits"),
            high=Max("remaining_credits"),
            first_at=Min("sent_at"),
            last_at=Max("sent_at"),
        )
        .order_by("message_type", "day")
    )
    for row in credit_rows:
        credits.setdefault(row["message_type"], []).append((row["day"], row["low"]))
        reports.setdefault(row["message_type"], []).append(
            _DayOfCredits(row["first_at"], row["high"], row["last_at"], row["low"])
        )
    consent.add_purged_credits(credits, purged)  # the chart: purged days too
    runs_out = {mtype: _trend(days, now) for mtype, days in reports.items()}

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


def _reasons_url(changelist_url: str, reason: str, state: str, since: datetime) -> str:
    # The changelist's own date filter parameter, with the offset (as its links have it).
    params = {
        "status__in": ",".join(sorted(FAILED)),
        "last_error": reason or EMPTY_ERROR,
        "created_at__gte": str(timezone.localtime(since)),
    }
    if state:
        params["failed_state"] = state
    return f"{changelist_url}?{urlencode(params)}"


@dataclass(frozen=True)
class _DayOfCredits:
    """One day's reports of one message type: the first (and highest) and the last (and
    lowest); credits only go down between top-ups."""

    first_at: datetime
    high: int
    last_at: datetime
    low: int


def _trend(days: list[_DayOfCredits], now: datetime) -> Trend:
    """Where the credits go at the rate of the last :data:`RATE_DAYS` days: a
    least-squares line through each day's low at its last report, plus the first day's
    first report (time in days, remaining credits). Only the period's start uses a day's
    high: a top-up during a later day would otherwise read as credits going up."""
    window = [d for d in days if now - d.last_at < timedelta(days=RATE_DAYS)]
    points = [(d.last_at, d.low) for d in window]
    if window and now - window[0].first_at < timedelta(days=RATE_DAYS):
        points.append((window[0].first_at, window[0].high))
    recent = sorted(points)
    xs = [(t - now).total_seconds() / 86400 for t, _credits in recent]
    ys = [v for _when, v in recent]
    if not xs or max(xs) - min(xs) < MIN_TREND_SPAN / timedelta(days=1):
        return Trend(enough=False)
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    if slope >= 0:
        return Trend(enough=True)
    last_at, last_value = recent[-1]
    days_left = last_value / -slope
    if days_left > FAR_DAYS:
        return Trend(enough=True, going_down=True)
    return Trend(
        enough=True,
        going_down=True,
        when=timezone.localdate(last_at + timedelta(days=days_left)),
    )


def render_charts(board: Dashboard, now: datetime | None = None) -> dict[str, Any]:
    """The three SVG charts for the template."""
    series = [s for s, _condition in _outcome_series(now or timezone.now())]
    total = sum(board.totals.values())
    bars = charts.stacked_bars(
        board.days,
        board.per_day,
        series,
        title=_("Messages per day by outcome, last %(days)d days") % {"days": DAYS},
        desc=ngettext("%(total)d message; %(detail)s.", "%(total)d messages; %(detail)s.", total)
        % {
            "total": total,
            # "label: n", not "n label": no plural to agree with.
            "detail": ", ".join(f"{s.label}: {board.totals[s.key]}" for s in series),
        },
    )
    reason_chart = charts.linked_bars(
        [(r["label"], r["count"], r["url"]) for r in board.reasons],
        colour=_COLOURS["failed"],
        title=_("Failures by reason"),
        desc=ngettext(
            "The most frequent reason of failed or undelivered messages.",
            "The %(n)d most frequent reasons of failed or undelivered messages.",
            len(board.reasons),
        )
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
        now = timezone.now()
        purpose = consent.chosen_purpose(request)
        board = build(now=now, changelist_url=changelist, purpose=purpose)
        series = [s for s, _condition in _outcome_series(now)]
        context = {
            **self.admin_site.each_context(request),
            "title": _("SMS dashboard"),
            "opts": self.opts,
            "board": board,
            "charts": render_charts(board, now),
            "series": series,
            "day_rows": [
                {"day": day, "values": [board.per_day.get(day, {}).get(s.key, 0) for s in series]}
                for day in board.days
            ],
            "total": sum(board.totals.values()),
            # Rounded here: number_format cuts the decimals (7 of 9 would read 77.7 %).
            "rate_percent": (
                formats.number_format(round(board.delivery_rate * 100, 1), 1)
                if board.delivery_rate is not None
                else None
            ),
            "median_text": duration_text(board.median_delivery),
            "oldest_text": duration_text(board.queue.get("oldest_due_age")),
            "runs_out": sorted(board.runs_out.items()),
            "far_years": FAR_DAYS // 365,
            "days": DAYS,
            "rate_days": RATE_DAYS,
            "changelist_url": changelist,
            "media": self.media,
            **workers_context(),  # the workers panel (admin/workers.py)
            **consent.purpose_links(request, purpose),
        }
        return TemplateResponse(request, "django_smsrest/admin/dashboard.html", context)
