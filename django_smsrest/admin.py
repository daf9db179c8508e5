"""The admin for the outbox: browse messages, send one, and act on them.

Entry points stay thin: every action and button calls :mod:`django_smsrest.services`, which
is the only code that changes a message's state. Choices made here, and why:

* **Read-only messages.** A message that exists has been (or is being) sent; editing it
  would make the row disagree with what the gateway has. ``has_change_permission`` is
  therefore always false and the change page is a view. New messages are created through
  services from the add form, never by ``obj.save()`` of a half-built row.
* **One permission for everything that spends credits**: ``django_smsrest.send_smsmessage``
  gates the add form, the actions (``@admin.action(permissions=["send"])``) and the
  change-page buttons. Those buttons post to custom URLs that are wrapped in
  ``admin_site.admin_view`` (login + CSRF), accept POST only (405 otherwise) and check the
  permission (403). django-post_office shipped its "resend" as a GET URL that anonymous
  users could call; this is the lesson applied.
* **A changelist that stays cheap at 100,000 rows**: the recipient count is the
  denormalised ``recipient_count`` column, no callable touches a relation, there is no
  ``date_hierarchy`` (a MIN/MAX plus a DISTINCT scan) and ``show_full_result_count`` is off
  (no second COUNT). The message-type filter lists the brand's types from settings instead
  of a ``SELECT DISTINCT``. A recipient search is ``pk IN (SELECT message_id ...)`` on the
  number index: no duplicate rows, no ``DISTINCT`` over a join, no scan.
* **Inlines capped**: a message may have 10,000 recipients; the inline shows the first
  :data:`RECIPIENT_INLINE_LIMIT` and links to the (paginated) recipient list for the rest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.forms import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django.views.i18n import JavaScriptCatalog

from django_smsrest import lifecycle
from django_smsrest.exceptions import SmsRestError
from django_smsrest.forms import SmsMessageAddForm, message_type_choices
from django_smsrest.models import Encoding, SmsMessage, SmsOrder, SmsRecipient, Status
from django_smsrest.segments import non_gsm_characters

logger = logging.getLogger(__name__)

#: Recipients shown inline on a message's page; the rest are one click away.
RECIPIENT_INLINE_LIMIT = 50
#: Messages listed by name on the resend confirmation page.
CONFIRMATION_LIST_LIMIT = 100
#: How long the account's credits are cached for the changelist (seconds), and how long a
#: failure to read them is remembered (so a gateway that is down does not make every
#: changelist load wait for a timeout).
CREDITS_CACHE_SECONDS = 60
CREDITS_FAILURE_CACHE_SECONDS = 15
CREDITS_CACHE_KEY = "django_smsrest:admin:credits"

# What a search term is taken for (see SmsMessageAdmin.get_search_results).
_ORDER_ID = re.compile(r"[0-9a-fA-F]{32}")
_PHONE_LIKE = re.compile(r"\+?[\d\s\-.()/]{6,24}")

# Errors an operation on one message may raise that are reported to the user rather than
# turned into a 500: the gateway's, a refusal by services (ValueError), a validation error.
OPERATION_ERRORS: tuple[type[Exception], ...] = (
    SmsRestError,
    ValueError,
    ValidationError,
    ImproperlyConfigured,
)


def _services() -> Any:
    # Imported on use: the admin module is loaded by autodiscover, and services pull in
    # the client and task machinery that a page which only lists rows does not need.
    from django_smsrest import services

    return services


# --- list filters -----------------------------------------------------------------------


class MessageTypeFilter(admin.SimpleListFilter):
    """The brand's message types from settings (no ``SELECT DISTINCT`` over the table)."""

    title = _("message type")
    parameter_name = "message_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[Any]:
        return message_type_choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        return queryset.filter(message_type=value) if value else queryset


class RecipientMessageFilter(admin.SimpleListFilter):
    """``?message=<pk>`` on the recipient list, without listing every message as a choice."""

    title = _("message")
    parameter_name = "message"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[Any]:
        value = self.value()
        return [(value, f"#{value}")] if value and value.isdigit() else []

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(message_id=int(value))
        return queryset


# --- inlines ----------------------------------------------------------------------------


def _may_view_messages(request: HttpRequest) -> bool:
    # Whoever may see the message may see its recipients and orders: they are part of it,
    # not separate objects with their own audience.
    opts = SmsMessage._meta
    return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or (
        request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
    )


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


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_view_messages(request)


class SmsRecipientInline(_ReadOnlyInline):
    model = SmsRecipient
    formset = CappedInlineFormSet
    fields = ("phone_number", "delivery_state", "delivery_date", "updated_at")
    readonly_fields = fields
    template = "django_smsrest/admin/recipient_inline.html"
    verbose_name_plural = _("recipients (delivery state)")

    @admin.display(description=_("delivery state"))
    def delivery_state(self, obj: SmsRecipient) -> str:
        return obj.state or "—"


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


# --- the message admin ------------------------------------------------------------------


class _Operation:
    """One operation on a message: its name (URL and action), label and eligible statuses."""

    def __init__(self, name: str, label: str | Promise, statuses: frozenset[str]) -> None:
        self.name = name
        self.label = label
        self.statuses = statuses


OPERATIONS: dict[str, _Operation] = {
    op.name: op
    for op in (
        _Operation("send", _("Send now"), lifecycle.SENDABLE),
        _Operation("resend", _("Resend"), lifecycle.RESENDABLE),
        _Operation("refresh", _("Refresh delivery status"), lifecycle.REFRESHABLE),
        _Operation("cancel", _("Cancel sending"), lifecycle.CANCELLABLE),
    )
}


def _call_service(request: HttpRequest, name: str, message: SmsMessage) -> Any:
    """The one place that maps an operation to its service call."""
    services = _services()
    if name == "send":
        # A person asked for it now: do not wait out a retry delay (the claim still lets
        # only one worker through).
        return services.send_message(message.pk, force=True)
    if name == "resend":
        return services.resend(message, defer=True)
    if name == "refresh":
        if message.status == Status.UNKNOWN:
            return services.reconcile(message.pk, force=True)
        return services.refresh_status(message)
    if name == "cancel":
        return services.cancel(message, reason=_cancel_reason(request))
    raise Http404(name)


@admin.register(SmsMessage)
class SmsMessageAdmin(admin.ModelAdmin):
    form = SmsMessageAddForm
    add_form_template = "django_smsrest/admin/change_form.html"
    change_form_template = "django_smsrest/admin/change_form.html"
    change_list_template = "django_smsrest/admin/change_list.html"

    list_display = (
        "id",
        "status_badge",
        "recipient_count",
        "text_preview",
        "segments",
        "message_type",
        "short_order_id",
        "remaining_credits",
        "created_at",
    )
    list_display_links = ("id", "text_preview")
    list_filter = (
        "status",
        MessageTypeFilter,
        "encoding",
        ("created_at", admin.DateFieldListFilter),
    )
    # Shown in the search help; the actual search is get_search_results below.
    search_fields = ("=order_id", "recipients__phone_number", "message")
    search_help_text = _(
        "Search by exact order id, by recipient phone number (any format) or by text."
    )
    show_full_result_count = False
    list_per_page = 50
    list_max_show_all = 500
    ordering = ("-created_at", "-id")
    actions = ("send_now", "resend", "refresh_status", "cancel_scheduled")
    inlines = (SmsOrderInline, SmsRecipientInline)

    view_fieldsets = (
        (
            _("Message"),
            {
                "fields": (
                    "message",
                    ("message_type", "sender"),
                    "scheduled_delivery_time",
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
                    ("message_type", "sender"),
                    "scheduled_delivery_time",
                )
            },
        ),
    )

    class Media:
        css = {"all": ("django_smsrest/admin.css",)}

    # --- permissions --------------------------------------------------------------------

    def has_send_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """The custom permission that gates everything that sends or cancels."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.send_{opts.model_name}")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Adding a message sends it, so it takes both permissions.
        return super().has_add_permission(request) and self.has_send_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Messages are never edited (see the module docstring); the change page is a view.
        return False

    # --- changelist ---------------------------------------------------------------------

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: SmsMessage) -> str:
        return format_html(
            '<span class="smsrest-badge smsrest-status-{}">{}</span>',
            obj.status,
            obj.get_status_display(),
        )

    @admin.display(description=_("text"))
    def text_preview(self, obj: SmsMessage) -> str:
        # format_html escapes the text: it is user input shown to other staff.
        return format_html(
            '<span class="smsrest-preview" title="{}">{}</span>',
            Truncator(obj.message).chars(500),
            Truncator(obj.message.replace("\n", " ")).chars(60),
        )

    @admin.display(description=_("order id"), ordering="order_id")
    def short_order_id(self, obj: SmsMessage) -> str:
        # The whole id is on the message's page and in the tooltip; search takes it whole.
        return format_html(
            '<span title="{}"><code>{}…</code></span>', obj.order_id, obj.order_id[:10]
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """One indexed lookup for the two precise searches, a text search otherwise.

        * an order id (32 hex characters): the message's or any of its orders' ``order_id``;
        * a phone number in any format (normalised to E.164 with the default region): the
          messages with that recipient, through ``pk IN (SELECT message_id ...)`` on the
          recipient number index, so a message never appears twice and nothing scans;
        * anything else: ``message`` icontains, or an exact (internal) order id.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        if _ORDER_ID.fullmatch(term):
            # Every message's first order carries the message's own order_id, so the orders
            # index alone answers; OR-ing in ``order_id=`` made PostgreSQL scan the table.
            orders = SmsOrder.objects.filter(order_id=term.lower()).values("message_id")
            return queryset.filter(pk__in=orders), False
        number = _as_phone_number(term) if _PHONE_LIKE.fullmatch(term) else None
        if number:
            recipients = SmsRecipient.objects.filter(phone_number=number).values("message_id")
            return queryset.filter(pk__in=recipients), False
        condition = Q(message__icontains=term)
        if len(term) <= 64 and " " not in term:
            condition |= Q(order_id=term) | Q(internal_order_id=term)
        return queryset.filter(condition), False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "smsrest_credits": account_credits()}
        return super().changelist_view(request, extra_context)

    # --- add form -----------------------------------------------------------------------

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
        obj.refresh_from_db()
        self.message_user(
            request,
            _("SMS #%(pk)s to %(count)s recipient(s): %(status)s.")
            % {"pk": obj.pk, "count": obj.recipient_count, "status": obj.get_status_display()},
            messages.SUCCESS if obj.status != Status.FAILED else messages.ERROR,
        )
        if "_addanother" in request.POST:
            return HttpResponseRedirect(reverse("admin:django_smsrest_smsmessage_add"))
        return _change_redirect(obj.pk)

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
            context["smsrest_summary"] = _cost_summary(form)
            context["smsrest_preview_requested"] = form.is_bound and form.preview_requested
            # The live counter's strings are in this app's djangojs catalog; the admin's own
            # jsi18n, already on the page, only carries the admin's. (The catalogs merge.)
            catalog = reverse(f"{self.admin_site.name}:django_smsrest_smsmessage_jsi18n")
            context["media"] = context["media"] + forms.Media(js=[catalog])
        elif obj is not None:
            context["smsrest_operations"] = (
                self._operations_for(obj) if self.has_send_permission(request, obj) else []
            )
            context["smsrest_recipients_url"] = (
                reverse("admin:django_smsrest_smsrecipient_changelist") + f"?message={obj.pk}"
            )
            context["smsrest_inline_limit"] = RECIPIENT_INLINE_LIMIT
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- operations: actions and change-page buttons ------------------------------------

    def _operations_for(self, obj: SmsMessage) -> list[dict[str, Any]]:
        """The buttons the change page shows for ``obj`` (those its status allows)."""
        return [
            {
                "name": op.name,
                "label": op.label,
                "url": reverse(f"admin:django_smsrest_smsmessage_{op.name}", args=[obj.pk]),
            }
            for op in OPERATIONS.values()
            if obj.status in op.statuses
        ]

    def _run(
        self, request: HttpRequest, op: _Operation, objs: Iterable[SmsMessage]
    ) -> tuple[int, list[str], int]:
        """Apply ``op`` to each message; return (done, error texts, skipped by services).

        Never raises for an expected failure of one message: the others still get their
        turn. ``send_message``/``reconcile`` return ``None`` when the row was not theirs to
        take (not due yet, or another worker has it); that counts as skipped.
        """
        done, errors, skipped = 0, [], 0
        for obj in objs:
            try:
                result = _call_service(request, op.name, obj)
            except OPERATION_ERRORS as exc:
                errors.append(f"#{obj.pk}: {_error_text(exc)}")
            else:
                if result is None and op.name in ("send", "refresh"):
                    skipped += 1
                else:
                    done += 1
        return done, errors, skipped

    def _report(
        self,
        request: HttpRequest,
        op: _Operation,
        done: int,
        errors: list[str],
        skipped: int,
        pks: list[int],
    ) -> None:
        if done:
            summary = ", ".join(
                f"{count} {Status(status).label.lower()}"
                for status, count in sorted(_status_counts(pks).items())
            )
            self.message_user(
                request,
                ngettext(
                    "%(op)s: %(count)d message done (%(summary)s).",
                    "%(op)s: %(count)d messages done (%(summary)s).",
                    done,
                )
                % {"op": op.label, "count": done, "summary": summary},
                messages.SUCCESS,
            )
        if errors:
            shown = "; ".join(errors[:10]) + (" …" if len(errors) > 10 else "")
            self.message_user(
                request,
                _("%(op)s failed for %(count)d message(s): %(errors)s")
                % {"op": op.label, "count": len(errors), "errors": shown},
                messages.ERROR,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(op)s: %(count)d message skipped (its status does not allow it, it is "
                    "not due yet, or a worker is handling it).",
                    "%(op)s: %(count)d messages skipped (their status does not allow it, "
                    "they are not due yet, or a worker is handling them).",
                    skipped,
                )
                % {"op": op.label, "count": skipped},
                messages.WARNING,
            )

    def _apply_action(self, request: HttpRequest, queryset: QuerySet, name: str) -> None:
        op = OPERATIONS[name]
        eligible = list(queryset.filter(status__in=op.statuses).order_by("pk"))
        skipped = queryset.exclude(status__in=op.statuses).count()
        done, errors, not_taken = self._run(request, op, eligible)
        pks = [m.pk for m in eligible]
        self._report(request, op, done, errors, skipped + not_taken, pks)

    @admin.action(permissions=["send"], description=_("Send now (queued messages)"))
    def send_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply_action(request, queryset, "send")

    @admin.action(permissions=["send"], description=_("Resend as new messages…"))
    def resend(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if request.POST.get("post") != "yes":
            return self._resend_confirmation(request, queryset, from_action=True)
        self._apply_action(request, queryset, "resend")
        return None

    @admin.action(permissions=["send"], description=_("Refresh delivery status"))
    def refresh_status(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply_action(request, queryset, "refresh")

    @admin.action(permissions=["send"], description=_("Cancel scheduled or queued send"))
    def cancel_scheduled(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply_action(request, queryset, "cancel")

    def _resend_confirmation(
        self, request: HttpRequest, queryset: QuerySet, *, from_action: bool
    ) -> TemplateResponse:
        """List what already went out (status, sent time, delivery states) before resending."""
        counts = queryset.aggregate(
            total=Count("pk"), eligible=Count("pk", filter=Q(status__in=lifecycle.RESENDABLE))
        )
        total = counts["total"]
        shown = list(queryset.order_by("-created_at", "-id")[:CONFIRMATION_LIST_LIMIT])
        states = _state_counts([m.pk for m in shown])
        rows = [
            {
                "obj": m,
                "eligible": m.status in lifecycle.RESENDABLE,
                "states": sorted(states.get(m.pk, {}).items()),
            }
            for m in shown
        ]
        select_across = request.POST.get("select_across") == "1"
        context = {
            **self.admin_site.each_context(request),
            "title": _("Resend SMS messages?"),
            "opts": self.opts,
            "rows": rows,
            "total": total,
            "hidden": max(total - len(shown), 0),
            "eligible": counts["eligible"],
            "from_action": from_action,
            "select_across": select_across,
            # Every selected pk, not only the listed ones (unless "select all" was used,
            # in which case the changelist's filters in the URL define the selection).
            "selected_pks": (
                list(queryset.values_list("pk", flat=True))
                if from_action and not select_across
                else []
            ),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "django_smsrest/admin/resend_confirmation.html", context)

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        views = {
            "send": self.send_view,
            "resend": self.resend_view,
            "refresh": self.refresh_view,
            "cancel": self.cancel_view,
        }
        custom = [
            path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(view),
                name="{}_{}_{}".format(*info, name),
            )
            for name, view in views.items()
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

    def _object_for_operation(self, request: HttpRequest, object_id: str) -> SmsMessage:
        if not self.has_send_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("No SMS message with id %(id)s.") % {"id": object_id})
        return obj

    def _button_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        obj = self._object_for_operation(request, object_id)
        op = OPERATIONS[name]
        if obj.status in op.statuses:
            done, errors, not_taken = self._run(request, op, [obj])
            self._report(request, op, done, errors, not_taken, [obj.pk])
        else:
            self._report(request, op, 0, [], 1, [])
        return _change_redirect(obj.pk)

    # The buttons' views. require_POST answers 405 to anything but POST; admin_view (in
    # get_urls) adds the login redirect and CSRF protection; _object_for_operation checks
    # the permission (403) before anything else happens.
    def send_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(lambda r: self._button_view(r, object_id, "send"))(request)

    def refresh_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(lambda r: self._button_view(r, object_id, "refresh"))(request)

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(lambda r: self._button_view(r, object_id, "cancel"))(request)

    def resend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """First POST shows the confirmation; the POST with ``post=yes`` resends."""

        def view(request: HttpRequest) -> HttpResponse:
            obj = self._object_for_operation(request, object_id)
            if request.POST.get("post") != "yes":
                return self._resend_confirmation(
                    request, SmsMessage.objects.filter(pk=obj.pk), from_action=False
                )
            op = OPERATIONS["resend"]
            if obj.status not in op.statuses:
                self._report(request, op, 0, [], 1, [])
                return _change_redirect(obj.pk)
            try:
                new = _services().resend(obj, defer=True)
            except OPERATION_ERRORS as exc:
                self.message_user(
                    request, f"{op.label}: #{obj.pk}: {_error_text(exc)}", messages.ERROR
                )
                return _change_redirect(obj.pk)
            self.message_user(
                request,
                _("SMS #%(old)s resent as #%(new)s.") % {"old": obj.pk, "new": new.pk},
                messages.SUCCESS,
            )
            return _change_redirect(new.pk)

        return require_POST(view)(request)


@admin.register(SmsRecipient)
class SmsRecipientAdmin(admin.ModelAdmin):
    """Read-only, paginated list of recipients (the full list behind the capped inline)."""

    list_display = ("phone_number", "message_link", "state", "delivery_date", "updated_at")
    list_filter = (RecipientMessageFilter, "state")
    search_fields = ("=phone_number",)
    search_help_text = _("Exact phone number, in any format.")
    show_full_result_count = False
    list_per_page = 100
    ordering = ("message", "id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_view_messages(request)

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
        number = _as_phone_number(term) or term
        return queryset.filter(phone_number=number), False


# --- helpers ----------------------------------------------------------------------------


def _change_redirect(pk: int) -> HttpResponseRedirect:
    """Back to a message's (view) page."""
    return HttpResponseRedirect(reverse("admin:django_smsrest_smsmessage_change", args=[pk]))


def _cancel_reason(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    name = user.get_username() if user is not None and user.is_authenticated else "?"
    return f"Cancelled from the admin by {name}"


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(str(m) for m in exc.messages)
    return str(exc) or type(exc).__name__


def _as_phone_number(term: str) -> str | None:
    """``term`` in E.164 if it reads as a phone number (default region applies), else None."""
    if not any(ch.isdigit() for ch in term):
        return None
    from django_smsrest import phone
    from django_smsrest.conf import get_settings

    try:
        return phone.normalize(term, get_settings().default_region)
    except (ValueError, ImproperlyConfigured):
        return None


def _cost_summary(form: SmsMessageAddForm) -> dict[str, Any] | None:
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


def _status_counts(pks: list[int]) -> dict[str, int]:
    rows = (
        SmsMessage.objects.filter(pk__in=pks)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def _state_counts(pks: list[int]) -> dict[int, dict[str, int]]:
    """``{message pk: {delivery state: count}}`` in one query."""
    result: dict[int, dict[str, int]] = {}
    rows = (
        SmsRecipient.objects.filter(message_id__in=pks)
        .order_by()
        .values_list("message_id", "state")
        .annotate(n=Count("id"))
    )
    for message_id, state, n in rows:
        result.setdefault(message_id, {})[state or str(_("no report yet"))] = n
    return result


def account_credits() -> dict[str, Any]:
    """The account's credits for the changelist, cached; never raises.

    Returns ``{"ok": True, "credits": [(type, quantity), ...], "money": Decimal|None}`` or
    ``{"ok": False, "error": "..."}`` (a message fit to show; it never contains a secret,
    since the app's exceptions are built not to).
    """
    cached = cache.get(CREDITS_CACHE_KEY)
    if cached is not None:
        return cached
    try:
        status = _services().get_credits()
    except Exception as exc:
        # Any failure (gateway down, bad credentials, services not configured) becomes a
        # warning line: the changelist must stay usable when the gateway is not.
        logger.warning("django_smsrest admin: could not read credits: %s", type(exc).__name__)
        text = str(exc) if isinstance(exc, SmsRestError | ImproperlyConfigured) else ""
        value: dict[str, Any] = {"ok": False, "error": text or type(exc).__name__}
        cache.set(CREDITS_CACHE_KEY, value, CREDITS_FAILURE_CACHE_SECONDS)
        return value
    value = {
        "ok": True,
        "credits": sorted(status.credits.items()),
        "money": status.money,
    }
    cache.set(CREDITS_CACHE_KEY, value, CREDITS_CACHE_SECONDS)
    return value
