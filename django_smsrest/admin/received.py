"""The received SMS (:class:`~django_smsrest.models.ReceivedSms`): a read-only list with
search. Rows come only from :func:`django_smsrest.services.receive_sms`; nothing here
writes one. Seen by users with the model's own view permission."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from django_smsrest.admin.common import as_phone_number
from django_smsrest.models import QuarantinedSms, ReceivedSms

#: Characters of the text shown in the list.
TEXT_PREVIEW = 80


@admin.register(ReceivedSms)
class ReceivedSmsAdmin(admin.ModelAdmin):
    """Read-only: the rows are what the gateway said; the raw JSON is on the view page."""

    list_display = ("received_at", "sender", "sim", "text_preview", "gateway_id")
    list_display_links = ("received_at", "sender")
    search_fields = ("sender", "sim", "text", "=gateway_id")
    search_help_text = _("Sender or receiving number (any format), words of the text, or id.")
    show_full_result_count = False
    list_per_page = 100
    ordering = ("-received_at", "-id")
    fields = ("received_at", "sender", "sim", "text", "gateway_id", "fetched_at", "raw_json")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ReceivedSms], search_term: str
    ) -> tuple[QuerySet[ReceivedSms], bool]:
        """A phone number in any format (``347 123 4567``, ``0039...``) finds the E.164
        sender or receiving number exactly; anything else searches as usual."""
        number = as_phone_number(search_term.strip())
        if number is not None:
            matches = queryset.filter(sender=number) | queryset.filter(sim=number)
            return matches, False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("text"))
    def text_preview(self, obj: ReceivedSms) -> str:
        text = obj.text
        return text if len(text) <= TEXT_PREVIEW else text[: TEXT_PREVIEW - 1] + "…"

    @admin.display(description=_("raw JSON"))
    def raw_json(self, obj: ReceivedSms) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.raw, indent=2, ensure_ascii=False))


@admin.register(QuarantinedSms)
class QuarantinedSmsAdmin(admin.ModelAdmin):
    """Read-only: received items that could not be stored, with the reason and the item
    as it came (escaped text). Nothing here writes one; a person may delete a row once
    looked at."""

    list_display = ("fetched_at", "gateway_id", "reason", "raw_preview")
    search_fields = ("=gateway_id", "reason", "raw")
    show_full_result_count = False
    list_per_page = 100
    ordering = ("-fetched_at", "-id")
    fields = ("fetched_at", "gateway_id", "key", "reason", "raw_text")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("raw item"))
    def raw_preview(self, obj: QuarantinedSms) -> str:
        raw = obj.raw
        return raw if len(raw) <= TEXT_PREVIEW else raw[: TEXT_PREVIEW - 1] + "…"

    @admin.display(description=_("raw item"))
    def raw_text(self, obj: QuarantinedSms) -> str:
        return format_html("<pre>{}</pre>", obj.raw)
