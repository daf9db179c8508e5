"""Read-only inlines of a message's page: its gateway orders and its recipients.

A message may have 10,000 recipients; the inline shows the first
:data:`~django_smsrest.admin.common.RECIPIENT_INLINE_LIMIT` (one query) and the page links to
the paginated recipient list for the rest.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_smsrest.admin.common import (
    RECIPIENT_INLINE_LIMIT,
    ReadOnlyForViewers,
)
from django_smsrest.models import Kind, SmsOrder, SmsRecipient
from django_smsrest.personalise import render


class CappedInlineFormSet(BaseInlineFormSet):
    """An inline formset that shows at most ``cap`` rows (evaluated once, one query)."""

    cap = RECIPIENT_INLINE_LIMIT

    def get_queryset(self) -> QuerySet:
        if not hasattr(self, "_capped_queryset"):
            capped = super().get_queryset()[: self.cap]
            # Evaluate now: the formset indexes the queryset once per form, and indexing an
            # unevaluated sliced queryset would run one query per row.
            len(capped)
            self._capped_queryset = capped
        return self._capped_queryset


class _ReadOnlyInline(ReadOnlyForViewers, admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


class SmsRecipientInline(_ReadOnlyInline):
    model = SmsRecipient
    formset = CappedInlineFormSet
    fields = ("phone_number", "delivery_state", "delivery_date", "updated_at", "text")
    readonly_fields = fields
    template = "django_smsrest/admin/recipient_inline.html"
    verbose_name_plural = _("recipients (delivery state)")

    @admin.display(description=_("delivery state"))
    def delivery_state(self, obj: SmsRecipient) -> str:
        return obj.state_label

    @admin.display(description=_("text received"))
    def text(self, obj: SmsRecipient) -> str:
        """A personalised message's text for this recipient, as the gateway renders it
        from the template and the recipient's values; empty for the other kinds."""
        if obj.message.kind != Kind.PARAMS:
            return ""
        return render(obj.message.message, obj.params)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("message")


class SmsOrderInline(_ReadOnlyInline):
    model = SmsOrder
    fields = (
        "index",
        "order_id",
        "status",
        "internal_order_id",
        "total_sent",
        "remaining_credits",
        "accepted_at",
    )
    readonly_fields = fields
