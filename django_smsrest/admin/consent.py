"""The admin's consent pieces: the campaign filter of the message list (the purpose filter
is the model field's own), and the override banner's text."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_smsrest.models import Purpose, SmsMessage

#: Campaigns offered in the filter at most (the newest first): the list stays short and
#: its query cheap on a large table; any other is reachable by its URL (?campaign=name).
MAX_CAMPAIGNS = 30


class CampaignFilter(admin.SimpleListFilter):
    """Messages of one ``campaign_name``."""

    title = _("campaign")
    parameter_name = "campaign"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = (
            SmsMessage.objects.exclude(campaign_name="")
            .order_by("-created_at")
            .values_list("campaign_name", flat=True)[: MAX_CAMPAIGNS * 20]
        )
        unique = list(dict.fromkeys(names))[:MAX_CAMPAIGNS]
        return [(name, name) for name in unique]

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
