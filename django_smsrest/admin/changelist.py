"""The message list: columns, filters, search and the credits line.

Kept cheap at 100,000 rows: the recipient count is the denormalised ``recipient_count``
column, no column touches a relation, ``show_full_result_count`` is off (no second COUNT),
the message-type filter lists the brand's types from settings instead of a
``SELECT DISTINCT``, and a recipient search is ``pk IN (SELECT message_id ...)`` on the
number index: no duplicate rows, no ``DISTINCT`` over a join, no scan.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from typing import Any

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Max, Min, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext_lazy as _

from django_smsrest import services
from django_smsrest.admin.common import as_phone_number, may_view_messages
from django_smsrest.admin.consent import CampaignFilter
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import SmsRestError
from django_smsrest.forms import message_type_choices
from django_smsrest.models import SmsMessage, SmsOrder, SmsRecipient
from django_smsrest.results import DeliveryState, delivery_label
from django_smsrest.throttle import app_cache

logger = logging.getLogger(__name__)

#: How long the account's credits are cached for the changelist (seconds), and how long a
#: failure to read them is remembered (so a gateway that is down does not make every
#: changelist load wait for a timeout).
CREDITS_CACHE_SECONDS = 60
CREDITS_FAILURE_CACHE_SECONDS = 15
CREDITS_CACHE_KEY = "django_smsrest:admin:credits"

# What a search term is taken for (see MessageListMixin.get_search_results).
_ORDER_ID = re.compile(r"[0-9a-fA-F]{32}")
_PHONE_LIKE = re.compile(r"\+?[\d\s\-.()/]{6,24}")


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


#: The ``last_error`` filter's value for "no error text" (an empty value means no filter).
EMPTY_ERROR = "-"


class LastErrorFilter(admin.SimpleListFilter):
    """``?last_error=<exact text>``: the dashboard's failure reasons link here. Lists only
    the chosen reason (no ``SELECT DISTINCT`` over a text column)."""

    title = _("failure reason")
    parameter_name = "last_error"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[Any]:
        value = self.value()
        if not value:
            return []
        shown = _("(no error text)") if value == EMPTY_ERROR else Truncator(value).chars(60)
        return [(value, shown)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(last_error="" if value == EMPTY_ERROR else value)


class FailedStateFilter(admin.SimpleListFilter):
    """``?failed_state=<wire state>``: messages with a recipient in that delivery state (the
    dashboard's reason for an undelivered message without error text links here). Lists
    only the chosen state, like :class:`LastErrorFilter`."""

    title = _("recipient delivery state")
    parameter_name = "failed_state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[Any]:
        value = self.value()
        return [(value, delivery_label(value))] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if not value:
            return queryset
        # pk IN (SELECT message_id ...): a message never appears twice.
        return queryset.filter(
            pk__in=SmsRecipient.objects.filter(state=value).values("message_id")
        )


class DeliveryStateFilter(admin.SimpleListFilter):
    """Recipients by delivery state, every state the gateway knows with its label (no
    ``SELECT DISTINCT`` over the table)."""

    title = _("delivery state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[Any]:
        return [("-", _("No report yet"))] + [
            (state.value, delivery_label(state.value))
            for state in DeliveryState
            if state is not DeliveryState.UNKNOWN
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(state="" if value == "-" else value)


class MessageListMixin(admin.ModelAdmin):
    """The changelist half of :class:`~django_smsrest.admin.message.SmsMessageAdmin`
    (a ``ModelAdmin`` subclass so that its options type-check as one; never registered)."""

    # Few enough columns to fit 1280 px beside the admin's sidebars; segments, credits and
    # the order id are on the message's page (and the search takes an order id).
    list_display = (
        "id",
        "status_badge",
        "recipient_count",
        "text_preview",
        "message_type",
        "created",
    )
    list_display_links = ("id", "text_preview")
    list_filter = (
        "status",
        MessageTypeFilter,
        ("created_at", admin.DateFieldListFilter),
        "encoding",
        LastErrorFilter,
        FailedStateFilter,
        "purpose",
        CampaignFilter,
    )
    # Drawn by date_links() below: one MIN/MAX query instead of Django's MIN/MAX plus a
    # SELECT DISTINCT over every row's truncated date (1.2 s at 100,000 rows on SQLite).
    date_hierarchy = "created_at"
    # Shown in the search help; the actual search is get_search_results below.
    search_fields = ("=order_id", "recipients__phone_number", "message")
    search_help_text = _(
        "Search by exact order id, by recipient phone number (any format) or by text."
    )
    show_full_result_count = False
    list_per_page = 50
    list_max_show_all = 500
    ordering = ("-created_at", "-id")

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: SmsMessage) -> str:
        return format_html(
            '<span class="smsrest-badge smsrest-status-{}">{}</span>',
            obj.status,
            obj.get_status_display(),
        )

    @admin.display(description=_("created at"), ordering="created_at")
    def created(self, obj: SmsMessage) -> str:
        # The short form ("07/12/2026 20:48"), the long one in the tooltip: Django's
        # default ("Lunedì 07 Dicembre 2026 20:48") alone would push the list past 1280 px.
        when = timezone.localtime(obj.created_at)
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            when.isoformat(),
            formats.date_format(when, "DATETIME_FORMAT"),
            formats.date_format(when, "SHORT_DATETIME_FORMAT"),
        )

    @admin.display(description=_("text"))
    def text_preview(self, obj: SmsMessage) -> str:
        # format_html escapes the text: it is user input shown to other staff.
        return format_html(
            '<span class="smsrest-preview" title="{}">{}</span>',
            Truncator(obj.message).chars(500),
            Truncator(obj.message.replace("\n", " ")).chars(60),
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
        number = as_phone_number(term) if _PHONE_LIKE.fullmatch(term) else None
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
        extra_context = {
            **(extra_context or {}),
            "smsrest_credits": brand_credits(),
            "smsrest_next": request.get_full_path(),
            "smsrest_dashboard_url": reverse(
                f"{self.admin_site.name}:django_smsrest_smsmessage_dashboard"
            ),
            "smsrest_credits_refresh_url": reverse(
                f"{self.admin_site.name}:django_smsrest_smsmessage_credits_refresh"
            ),
        }
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context is not None and "cl" in context:
            context["smsrest_date_hierarchy"] = date_links(context["cl"])
        return response

    def credits_refresh_view(self, request: HttpRequest) -> HttpResponse:
        """Forget the cached credits (POST only, view permission) and go back to the list,
        which reads them again. Nothing else happens: no send, no write."""
        if not may_view_messages(request):
            raise PermissionDenied
        cache = app_cache()
        if cache is not None:
            cache.delete(CREDITS_CACHE_KEY)
        url = reverse(f"{self.admin_site.name}:django_smsrest_smsmessage_changelist")
        back = request.POST.get("next", "")
        # Only back to the changelist itself (with its filters), never to another host.
        return HttpResponseRedirect(back if back.startswith(url) else url)


def date_links(cl: Any) -> dict[str, Any]:
    """The date hierarchy's links (what ``admin/date_hierarchy.html`` expects) from the range
    of ``created_at`` on the current selection: one ``MIN``/``MAX`` query, on the index.

    Django's own tag adds a ``SELECT DISTINCT`` of the truncated dates, a scan of every row;
    here every year, month or day between the first and the last message is offered, so a
    day without messages may lead to an empty list.
    """
    field = cl.date_hierarchy
    year, month, day = (cl.params.get(f"{field}__{part}") for part in ("year", "month", "day"))

    def link(filters: dict[str, Any]) -> str:
        return cl.get_query_string(filters, [f"{field}__"])

    if year and month and day:
        chosen = date(int(year), int(month), int(day))
        return {
            "show": True,
            "back": {
                "link": link({f"{field}__year": year, f"{field}__month": month}),
                "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
        }
    bounds = cl.queryset.aggregate(first=Min(field), last=Max(field))
    if bounds["first"] is None:
        return {"show": False}
    first, last = (timezone.localtime(bounds[k]).date() for k in ("first", "last"))
    if not year and first.year == last.year:
        year = str(first.year)
    if year and not month and first.year == last.year and first.month == last.month:
        month = str(first.month)
    if year and month:
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        return {
            "show": True,
            "back": {"link": link({f"{field}__year": year}), "title": str(year)},
            "choices": [
                {
                    "link": link(
                        {f"{field}__year": year, f"{field}__month": month, f"{field}__day": d.day}
                    ),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in days
            ],
        }
    if year:
        months = [date(int(year), m, 1) for m in range(first.month, last.month + 1)]
        return {
            "show": True,
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {
                    "link": link({f"{field}__year": year, f"{field}__month": m.month}),
                    "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT")),
                }
                for m in months
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({f"{field}__year": str(y)}), "title": str(y)}
            for y in range(first.year, last.year + 1)
        ],
    }


def account_credits() -> dict[str, Any]:
    """The account's credits for the changelist, cached; never raises.

    Returns ``{"ok": True, "credits": [(type, quantity), ...], "money": Decimal|None}`` or
    ``{"ok": False, "error": "..."}`` (a message fit to show; it never contains a secret,
    since the app's exceptions are built not to).
    """
    # SMSREST["CACHE"], like the pause: a project whose default cache is per process (or
    # a dummy) names a shared one there. No cache (an unknown alias): read every time.
    cache = app_cache()
    cached = cache.get(CREDITS_CACHE_KEY) if cache is not None else None
    if cached is not None:
        return cached
    try:
        status = services.get_credits()
    except Exception as exc:
        # Any failure (gateway down, bad credentials, services not configured) becomes a
        # warning line: the changelist must stay usable when the gateway is not.
        logger.warning("django_smsrest admin: could not read credits: %s", type(exc).__name__)
        text = str(exc) if isinstance(exc, SmsRestError | ImproperlyConfigured) else ""
        value: dict[str, Any] = {"ok": False, "error": text or type(exc).__name__}
        if cache is not None:
            cache.set(CREDITS_CACHE_KEY, value, CREDITS_FAILURE_CACHE_SECONDS)
        return value
    value = {
        "ok": True,
        "credits": sorted(status.credits.items()),
        "money": status.money,
        "as_of": timezone.now(),
    }
    if cache is not None:
        cache.set(CREDITS_CACHE_KEY, value, CREDITS_CACHE_SECONDS)
    return value


def brand_credits() -> dict[str, Any]:
    """:func:`account_credits` narrowed to the configured brand's message types, each with
    its label: ``credits`` is ``[(code, label, quantity), ...]``. The gateway may report
    types the brand does not sell (or another brand's); they mean nothing here."""
    value = dict(account_credits())
    if not value["ok"]:
        return value
    try:
        types = get_settings().message_types
    except ImproperlyConfigured:
        return value
    reported = dict(value["credits"])
    value["credits"] = [
        (code, mtype.verbose_label, reported[code])
        for code, mtype in types.items()
        if code in reported
    ]
    return value
