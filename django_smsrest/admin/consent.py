"""The admin's consent pieces: the campaign filter of the message list (the purpose filter
is the model field's own), the dashboard's purpose switch, and the purged messages'
tallies the dashboard adds to its live figures (:func:`add_purged`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import admin
from django.db.models import Max, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_smsrest.models import DailyTally, Purpose, SmsMessage

#: Campaigns offered in the filter at most (alphabetical); any other is reachable by its
#: URL (``?campaign=name``).
MAX_CAMPAIGNS = 50


class CampaignFilter(admin.SimpleListFilter):
    """Messages of one ``campaign_name``. Its choices come from the partial index on the
    named campaigns (``smsrest_msg_campaign_idx``), so listing them does not scan the
    messages sent without one."""

    title = _("campaign")
    parameter_name = "campaign"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        rows = (
            SmsMessage.objects.exclude(campaign_name="")
            .values("campaign_name")
            .annotate(last=Max("created_at"))  # GROUP BY (a Count would read as a count)
            .order_by("campaign_name")[:MAX_CAMPAIGNS]
        )
        return [(row["campaign_name"], row["campaign_name"]) for row in rows]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(campaign_name=value)


def chosen_purpose(request: HttpRequest) -> str | None:
    """The dashboard's ``?purpose=`` (``None``: every message; an unknown value too)."""
    value = request.GET.get("purpose")
    return value if value in Purpose.values else None


def purpose_links(request: HttpRequest, chosen: str | None) -> dict[str, Any]:
    """The dashboard's "All / Transactional / Marketing" switch, for its template."""
    links = [{"label": _("All"), "query": "", "current": chosen is None}]
    links += [
        {"label": label, "query": f"?purpose={value}", "current": chosen == value}
        for value, label in Purpose.choices
    ]
    return {"smsrest_purpose_links": links, "smsrest_purpose": chosen}


#: One purged tally: day, status, message type, count, lowest remaining credits.
Tally = tuple[date, str, str, int, int | None]


def purged_tallies(first: date, purpose: str | None) -> list[Tally]:
    """The daily tallies ``cleanup_sms`` kept of the messages it purged since ``first``
    (one query)."""
    tallies = DailyTally.objects.filter(day__gte=first)
    if purpose:
        tallies = tallies.filter(purpose=purpose)
    return list(tallies.values_list("day", "status", "message_type", "count", "low_credits"))


def add_purged_counts(
    per_day: dict[date, dict[str, int]],
    purged: list[Tally],
    buckets: list[tuple[Any, frozenset[str]]],
) -> None:
    """Add the purged messages to the dashboard's per-day figures, in place: a purged
    day counts as if its rows were still there."""
    for day, status, _mtype, count, _low in purged:
        for series, statuses in buckets:
            if status in statuses:
                row = per_day.setdefault(day, {s.key: 0 for s, _statuses in buckets})
                row[series.key] += count


def add_purged_credits(credits: dict[str, list[tuple[date, int]]], purged: list[Tally]) -> None:
    """Merge the purged messages' lowest remaining credits into the dashboard's credits
    points (per message type, ``(day, lowest)`` in day order), in place."""
    lows = {mtype: dict(values) for mtype, values in credits.items()}
    for day, _status, mtype, _count, low in purged:
        if low is not None:
            known = lows.setdefault(mtype, {})
            known[day] = min(low, known.get(day, low))
    credits.clear()
    credits.update({mtype: sorted(days.items()) for mtype, days in sorted(lows.items())})
