"""The registered admins: ``SmsMessageAdmin`` (add form and read-only message page; the list
and the operations come from its mixins) and ``SmsRecipientAdmin``.

* **Read-only messages.** A message that exists has been (or is being) sent; editing it
  would make the row disagree with what the gateway has. ``has_change_permission`` is
  therefore always false and the change page is a view. New messages are created through
  services from the add form, never by ``obj.save()`` of a half-built row.
* **Adding sends**, so the add form takes the add permission and the send permission.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django.views.i18n import JavaScriptCatalog

from django_smsrest.admin.changelist import (
    DeliveryStateFilter,
    MessageListMixin,
    RecipientMessageFilter,
)
from django_smsrest.admin.common import (
    RECIPIENT_INLINE_LIMIT,
    ReadOnlyForViewers,
    as_phone_number,
    change_redirect,
    outcome_level,
    outcome_text,
)
from django_smsrest.admin.dashboard import DashboardMixin
from django_smsrest.admin.inlines import SmsOrderInline, SmsRecipientInline
from django_smsrest.admin.operations import OperationsMixin
from django_smsrest.forms import SmsMessageAddForm
from django_smsrest.models import Encoding, SmsMessage, SmsRecipient
from django_smsrest.segments import non_gsm_characters


@admin.register(SmsMessage)
class SmsMessageAdmin(MessageListMixin, OperationsMixin, DashboardMixin, admin.ModelAdmin):
    form = SmsMessageAddForm
    add_form_template = "django_smsrest/admin/change_form.html"
    change_form_template = "django_smsrest/admin/change_form.html"
    change_list_template = "django_smsrest/admin/change_list.html"
    inlines = (SmsOrderInline, SmsRecipientInline)

    view_fieldsets = (
        (
            _("Message"),
            {
                "fields": (
                    "message",
                    ("kind", "groups"),
                    ("message_type", "sender"),
                    "scheduled_delivery_time",
                    ("purpose", "campaign_name"),
                    ("encoding", "segments", "recipient_count"),
                )
            },
        ),
        (
            _("Gateway"),
            {
                "fields": (
                    "status_badge",
                    ("order_id", "internal_order_id"),
                    ("total_sent", "remaining_credits"),
                    "last_error",
                    "overridden_to",
                    ("sent_at", "finished_at"),
                    "resend_of",
                )
            },
        ),
        (
            _("Outbox"),
            {
                "classes": ("collapse",),
                "fields": (
                    ("attempts", "next_attempt_at"),
                    ("lease_until", "next_status_check_at"),
                    ("created_at", "updated_at"),
                ),
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "fields": (
                    "message",
                    "recipients",
                    "groups",
                    ("message_type", "sender"),
                    "scheduled_delivery_time",
                    ("purpose", "campaign_name"),
                )
            },
        ),
    )

    class Media:
        css = {"all": ("django_smsrest/admin.css",)}

    # --- permissions ----------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Adding a message sends it, so it takes both permissions.
        return super().has_add_permission(request) and self.has_send_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Messages are never edited (see the module docstring); the change page is a view.
        return False

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        # Fixed paths first: "credits/refresh/" would otherwise read as the "refresh"
        # button of a message whose id is "credits".
        custom = [
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="{}_{}_dashboard".format(*info),
            ),
            path(
                "credits/refresh/",
                self.admin_site.admin_view(require_POST(self.credits_refresh_view)),
                name="{}_{}_credits_refresh".format(*info),
            ),
            *self.operation_urls(),
        ]
        custom.append(
            path(
                "jsi18n/",
                self.admin_site.admin_view(
                    JavaScriptCatalog.as_view(packages=["django_smsrest"]), cacheable=True
                ),
                name="{}_{}_jsi18n".format(*info),
            )
        )
        # Before the defaults: their "<path:object_id>/" catch-all would swallow these.
        return custom + super().get_urls()

    # --- add form and view page -----------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fieldsets if obj is None else self.view_fieldsets

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            return super().get_form(request, obj, change=change, **kwargs)
        # The view page: a plain form without fields; every field is shown read-only.
        kwargs["fields"] = ()
        kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("status_badge",)

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return () if obj is None else self.inlines

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> SmsMessage:
        """Create the message through services (queued; the task sends it on commit).

        Queued rather than sent inline: the admin's add view runs inside a transaction, and
        no transaction may stay open across the HTTP call to the gateway. With the default
        ImmediateBackend the task runs right after the commit, before the redirect.
        """
        if change:
            raise PermissionDenied
        return form.send(defer=True)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing to do: services already created and committed the row."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Nothing to do: services created the recipients and orders."""

    def response_add(
        self, request: HttpRequest, obj: SmsMessage, post_url_continue: str | None = None
    ) -> HttpResponse:
        if IS_POPUP_VAR in request.POST:
            return super().response_add(request, obj, post_url_continue)
        # The add view runs in a transaction and the send runs when it commits, after this
        # method: a banner built now would always say "Queued". Callbacks run in the order
        # they were registered, so this one reads the row after the send did its work
        # (with ATOMIC_REQUESTS too: the messages middleware stores the banner later).
        transaction.on_commit(
            partial(self._report_added, request, obj.pk),
            using=router.db_for_write(SmsMessage),
            robust=True,
        )
        if "_addanother" in request.POST:
            return HttpResponseRedirect(reverse("admin:django_smsrest_smsmessage_add"))
        return change_redirect(obj.pk)

    def _report_added(self, request: HttpRequest, pk: int) -> None:
        """The banner after an add: the row as the send left it, at the matching level."""
        obj = SmsMessage.objects.get(pk=pk)
        self.message_user(
            request,
            ngettext(
                "SMS #%(pk)s to %(count)s recipient: %(outcome)s.",
                "SMS #%(pk)s to %(count)s recipients: %(outcome)s.",
                obj.recipient_count,
            )
            % {"pk": obj.pk, "count": obj.recipient_count, "outcome": outcome_text(obj)},
            outcome_level(obj.status),
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: SmsMessage | None = None,
    ) -> HttpResponse:
        if add:
            form = context["adminform"].form
            context["smsrest_summary"] = cost_summary(form)
            context["smsrest_preview_requested"] = form.is_bound and form.preview_requested
            # The live counter's strings are in this app's djangojs catalog; the admin's own
            # jsi18n, already on the page, only carries the admin's. (The catalogs merge.)
            catalog = reverse(f"{self.admin_site.name}:django_smsrest_smsmessage_jsi18n")
            context["media"] = context["media"] + forms.Media(js=[catalog])
        elif obj is not None:
            context["smsrest_operations"] = self.operations_for(request, obj)
            context["smsrest_recipients_url"] = (
                reverse("admin:django_smsrest_smsrecipient_changelist") + f"?message={obj.pk}"
            )
            context["smsrest_inline_limit"] = RECIPIENT_INLINE_LIMIT
        return super().render_change_form(request, context, add, change, form_url, obj)


def cost_summary(form: SmsMessageAddForm) -> dict[str, Any] | None:
    """What the add page shows under the form, computed on the server.

    After a successful validation: the service's numbers (recipients, credits, orders).
    Otherwise, when text was typed: encoding and segments of the text alone.
    """
    if not form.is_bound:
        return None
    validated = form.validated
    if validated is not None:
        text = validated.message
        return {
            "validated": True,
            "encoding": str(Encoding(validated.encoding).label),
            "segments": validated.segments,
            "recipients": len(validated.recipients),
            "credits": validated.credits,
            "orders": validated.orders,
            "non_gsm": ", ".join(non_gsm_characters(text)),
        }
    count = form.preview()
    if count is None:
        return None
    text = str(form.data.get("message", ""))
    return {
        "validated": False,
        "encoding": str(Encoding(count.encoding).label),
        "segments": count.segments,
        "characters": count.characters,
        "non_gsm": ", ".join(non_gsm_characters(text)),
    }


@admin.register(SmsRecipient)
class SmsRecipientAdmin(ReadOnlyForViewers, admin.ModelAdmin):
    """Read-only, paginated list of recipients (the full list behind the capped inline)."""

    list_display = (
        "phone_number",
        "message_link",
        "delivery_state",
        "delivery_date",
        "updated_at",
    )
    list_filter = (RecipientMessageFilter, DeliveryStateFilter)
    search_fields = ("=phone_number",)
    search_help_text = _("Exact phone number, in any format.")
    show_full_result_count = False
    list_per_page = 100
    ordering = ("message", "id")

    @admin.display(description=_("delivery state"), ordering="state")
    def delivery_state(self, obj: SmsRecipient) -> str:
        return obj.state_label

    @admin.display(description=_("message"), ordering="message")
    def message_link(self, obj: SmsRecipient) -> str:
        url = reverse("admin:django_smsrest_smsmessage_change", args=[obj.message_id])
        return format_html('<a href="{}">#{}</a>', url, obj.message_id)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        number = as_phone_number(term) or term
        return queryset.filter(phone_number=number), False
