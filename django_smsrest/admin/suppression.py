"""The suppression list in the admin: search, add one number, CSV import and export.

Thin over :mod:`django_smsrest.services.consent`: adding goes through ``suppress`` (the
number normalised, the ``opted_out`` signal fired), deleting through ``unsuppress``, the
import through ``import_csv`` (all or nothing). The import is a POST that needs the
model's add permission; the export needs its view permission.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_smsrest.admin.common import as_phone_number
from django_smsrest.models import Suppression
from django_smsrest.services import consent

#: Largest CSV accepted by the import (bytes): about 100,000 numbers with reasons.
MAX_IMPORT_BYTES = 5 * 1024 * 1024


class SuppressionForm(forms.ModelForm):
    """One number to suppress, in any format; normalised by the service."""

    class Meta:
        model = Suppression
        fields = ("phone_number", "reason")

    def clean_phone_number(self) -> str:
        number = as_phone_number(self.cleaned_data["phone_number"])
        if number is None:
            raise ValidationError(_("This is not a phone number."), code="invalid")
        return number


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, with a “phone_number” column and optionally a “reason” column (the "
            "export's format), or one number per line. All or nothing: any bad row is "
            "reported and nothing is imported."
        ),
    )


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    form = SuppressionForm
    change_list_template = "django_smsrest/admin/suppression_change_list.html"
    list_display = ("phone_number", "origin", "reason", "created_at", "synced_at")
    list_filter = ("origin", ("synced_at", admin.EmptyFieldListFilter))
    search_fields = ("phone_number", "reason")
    search_help_text = _("A phone number in any format, or words of the reason.")
    show_full_result_count = False
    list_per_page = 100
    ordering = ("-created_at", "-id")
    readonly_fields = ("origin", "created_at", "synced_at")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a suppression is added or removed, never edited

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("phone_number", "reason")
        return ("phone_number", "reason", "origin", "created_at", "synced_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: Suppression, form: Any, change: bool) -> None:
        saved = consent.suppress(obj.phone_number, reason=obj.reason)
        obj.pk, obj.origin, obj.created_at = saved.pk, saved.origin, saved.created_at

    def delete_model(self, request: HttpRequest, obj: Suppression) -> None:
        consent.unsuppress(obj.phone_number)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Suppression]) -> None:
        for number in queryset.values_list("phone_number", flat=True):
            consent.unsuppress(number)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Suppression], search_term: str
    ) -> tuple[QuerySet[Suppression], bool]:
        """A number in any format finds its E.164 row exactly."""
        number = as_phone_number(search_term.strip())
        if number is not None:
            return queryset.filter(phone_number=number), False
        return super().get_search_results(request, queryset, search_term)

    # --- CSV ----------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        info = self.opts.app_label, self.opts.model_name
        context = {
            "smsrest_import_url": (
                reverse("admin:{}_{}_import".format(*info))
                if self.has_add_permission(request)
                else ""
            ),
            "smsrest_export_url": reverse("admin:{}_{}_export".format(*info)),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """GET: the upload form; POST (add permission): import, then back to the list."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        report: consent.ImportReport | None = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_IMPORT_BYTES:
                form.add_error("file", _("The file is too large (at most 5 MB)."))
            else:
                try:
                    report = consent.import_csv(upload.read())
                except UnicodeDecodeError:
                    form.add_error("file", _("The file is not UTF-8 text."))
            if report is not None and not report.errors:
                self.message_user(
                    request,
                    ngettext(
                        "%(added)d number added to the suppression list (%(existing)d "
                        "already there).",
                        "%(added)d numbers added to the suppression list (%(existing)d "
                        "already there).",
                        report.added,
                    )
                    % {"added": report.added, "existing": report.existing},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import numbers to suppress"),
            "opts": self.opts,
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "django_smsrest/admin/suppression_import.html", context)

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """The whole list as CSV (view permission), streamed page by page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        response = StreamingHttpResponse(consent.export_csv(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="suppression-list.csv"'
        return response
