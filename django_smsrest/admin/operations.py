"""What a person can do to messages: send now, resend, refresh the delivery status, cancel.

Each operation exists twice, as a changelist action and as a button on the message's page,
and both go through the same code: :data:`OPERATIONS` (which statuses allow it, from
:mod:`django_smsrest.lifecycle`), :func:`call_service` (the one mapping to
:mod:`django_smsrest.services`, the only writer of a message's state) and
:meth:`OperationsMixin._report` (the messages shown afterwards).

The buttons post to custom URLs wrapped in ``admin_site.admin_view`` (login + CSRF) that
accept POST only (405 otherwise) and check :func:`~django_smsrest.admin.common.may_operate`
(403) before anything else. django-post_office shipped its "resend" as a GET URL that
anonymous users could call; this is the lesson applied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from django_smsrest import lifecycle, services
from django_smsrest.admin.common import (
    CONFIRMATION_LIST_LIMIT,
    OPERATION_ERRORS,
    change_redirect,
    error_text,
    may_operate,
    outcome_level,
    outcome_text,
)
from django_smsrest.backends import BaseBackend, get_backend
from django_smsrest.models import SmsMessage, SmsRecipient, Status
from django_smsrest.results import delivery_label


class Operation:
    """One operation on a message: its name (URL and action), label, eligible statuses,
    the backend capability it needs in some of them (``{status: flag}``: the button is
    shown only where the configured backend has that flag, e.g. no "Cancel" for a
    scheduled message on a backend that cannot cancel), and whether it applies to login
    codes (``codes``: no "Resend" for a code, which the service refuses)."""

    def __init__(
        self,
        name: str,
        label: str | Promise,
        statuses: frozenset[str],
        needs: Mapping[str, str] | None = None,
        *,
        codes: bool = True,
    ) -> None:
        self.name = name
        self.label = label
        self.statuses = statuses
        self.needs = needs or {}
        self.codes = codes

    def applies(self, obj: SmsMessage, backend: BaseBackend) -> bool:
        """Whether the button is shown on ``obj``'s page."""
        flag = self.needs.get(obj.status)
        return (
            self.takes(obj)
            and obj.status in self.statuses
            and (flag is None or bool(getattr(backend, flag)))
        )

    def takes(self, obj: SmsMessage) -> bool:
        """Whether this kind of message may have the operation at all."""
        return self.codes or not obj.is_code

    def eligible(self, queryset: QuerySet) -> QuerySet:
        """The messages of ``queryset`` in a status (and of a kind) this operation takes."""
        queryset = queryset.filter(status__in=self.statuses)
        return queryset if self.codes else queryset.filter(is_code=False)


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("send", _("Send now"), lifecycle.SENDABLE),
        Operation("resend", _("Resend"), lifecycle.RESENDABLE, codes=False),
        Operation(
            "refresh",
            _("Refresh delivery status"),
            lifecycle.REFRESHABLE,
            dict.fromkeys(lifecycle.REFRESHABLE, "supports_status"),
        ),
        Operation(
            "cancel",
            _("Cancel sending"),
            lifecycle.CANCELLABLE,
            {Status.SCHEDULED: "supports_cancel"},
        ),
    )
}


def call_service(request: HttpRequest, name: str, message: SmsMessage) -> Any:
    """The one place that maps an operation to its service call."""
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


def _cancel_reason(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    name = user.get_username() if user is not None and user.is_authenticated else "?"
    # Recorded as the message's last_error: a text for people, in the language of the one
    # who cancelled.
    return gettext("Cancelled from the admin by %(user)s") % {"user": name}


def outcomes(pks: list[int]) -> list[SmsMessage]:
    """The messages ``pks`` as they are now (status, last error), in one query."""
    return list(
        SmsMessage.objects.filter(pk__in=pks)
        .only("pk", "status", "last_error", "next_attempt_at")
        .order_by("pk")
    )


def state_counts(pks: list[int]) -> dict[int, dict[str, int]]:
    """``{message pk: {delivery state: count}}`` in one query."""
    result: dict[int, dict[str, int]] = {}
    rows = (
        SmsRecipient.objects.filter(message_id__in=pks)
        .order_by()
        .values_list("message_id", "state")
        .annotate(n=Count("id"))
    )
    for message_id, state, n in rows:
        result.setdefault(message_id, {})[delivery_label(state)] = n
    return result


class OperationsMixin(admin.ModelAdmin):
    """Actions and change-page buttons of
    :class:`~django_smsrest.admin.message.SmsMessageAdmin` (never registered itself)."""

    actions = ("send_now", "resend", "refresh_status", "cancel_scheduled")

    def has_send_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Gates the actions (``@admin.action(permissions=["send"])``), the buttons and the
        add form: see :func:`~django_smsrest.admin.common.may_operate`."""
        return may_operate(request)

    # --- running and reporting ------------------------------------------------------------

    def _run(
        self, request: HttpRequest, op: Operation, objs: Iterable[SmsMessage]
    ) -> tuple[list[int], list[str], int]:
        """Apply ``op`` to each message; return (the pks of the messages it produced, error
        texts, skipped by services). For a resend the produced messages are the NEW ones:
        their outcome, not the originals', is what the user asked about.

        Never raises for an expected failure of one message: the others still get their
        turn. ``send_message``/``reconcile`` return ``None`` when the row was not theirs to
        take (not due yet, or another worker has it); that counts as skipped.
        """
        done: list[int] = []
        errors: list[str] = []
        skipped = 0
        for obj in objs:
            try:
                result = call_service(request, op.name, obj)
            except OPERATION_ERRORS as exc:
                errors.append(f"#{obj.pk}: {error_text(exc)}")
            else:
                if result is None and op.name in ("send", "refresh"):
                    skipped += 1
                else:
                    done.append(result.pk if isinstance(result, SmsMessage) else obj.pk)
        return done, errors, skipped

    def _report(
        self,
        request: HttpRequest,
        op: Operation,
        done: list[int],
        errors: list[str],
        skipped: int,
    ) -> None:
        """One banner per kind of result. ``done`` is read again here (after the sends that
        ran on commit): its statuses make the summary, the worst of them the level, and
        the reasons of those that failed or wait for a retry are listed."""
        if done:
            rows = outcomes(done)
            counts = Counter(str(m.get_status_display()).lower() for m in rows)
            summary = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
            reasons = [
                f"#{m.pk}: {outcome_text(m)}"
                for m in rows
                if m.last_error and outcome_level(m.status, asked=op.name) != messages.SUCCESS
            ]
            if reasons:
                summary += "; " + "; ".join(reasons[:10]) + (" …" if len(reasons) > 10 else "")
            ids = ", ".join(f"#{pk}" for pk in done[:20]) + (" …" if len(done) > 20 else "")
            params = {"op": op.label, "count": len(done), "summary": summary, "ids": ids}
            if op.name == "resend":
                text = ngettext(
                    "%(op)s: %(count)d new message (%(ids)s): %(summary)s.",
                    "%(op)s: %(count)d new messages (%(ids)s): %(summary)s.",
                    len(done),
                )
            else:
                text = ngettext(
                    "%(op)s: %(count)d message done (%(summary)s).",
                    "%(op)s: %(count)d messages done (%(summary)s).",
                    len(done),
                )
            level = max(outcome_level(m.status, asked=op.name) for m in rows)
            self.message_user(request, text % params, level)
        if errors:
            shown = "; ".join(errors[:10]) + (" …" if len(errors) > 10 else "")
            self.message_user(
                request,
                ngettext(
                    "%(op)s failed for %(count)d message: %(errors)s",
                    "%(op)s failed for %(count)d messages: %(errors)s",
                    len(errors),
                )
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

    # --- actions --------------------------------------------------------------------------

    def _apply_action(self, request: HttpRequest, queryset: QuerySet, name: str) -> None:
        op = OPERATIONS[name]
        eligible = list(op.eligible(queryset).order_by("pk"))
        skipped = queryset.count() - len(eligible)
        done, errors, not_taken = self._run(request, op, eligible)
        self._report(request, op, done, errors, skipped + not_taken)

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
            total=Count("pk"),
            eligible=Count("pk", filter=Q(status__in=lifecycle.RESENDABLE, is_code=False)),
        )
        total = counts["total"]
        shown = list(queryset.order_by("-created_at", "-id")[:CONFIRMATION_LIST_LIMIT])
        states = state_counts([m.pk for m in shown])
        rows = [
            {
                "obj": m,
                "eligible": OPERATIONS["resend"].takes(m) and m.status in lifecycle.RESENDABLE,
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

    # --- change-page buttons --------------------------------------------------------------

    def operations_for(self, request: HttpRequest, obj: SmsMessage) -> list[dict[str, Any]]:
        """The buttons the change page shows for ``obj`` (those its status allows, none
        without the permission)."""
        if not self.has_send_permission(request, obj):
            return []
        backend = get_backend()
        return [
            {
                "name": op.name,
                "label": op.label,
                "url": reverse(f"admin:django_smsrest_smsmessage_{op.name}", args=[obj.pk]),
            }
            for op in OPERATIONS.values()
            if op.applies(obj, backend)
        ]

    def operation_urls(self) -> list[URLPattern]:
        """One URL per button, all served by :meth:`operation_view`. ``admin_view`` adds the
        login redirect and CSRF protection; ``require_POST`` answers 405 to anything else."""
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(require_POST(self.operation_view))
        return [
            path(
                f"<path:object_id>/{name}/",
                view,
                {"name": name},
                name="{}_{}_{}".format(*info, name),
            )
            for name in OPERATIONS
        ]

    def operation_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """A button was pressed: check the permission (403) before anything else."""
        if not self.has_send_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("No SMS message with id %(id)s.") % {"id": object_id})
        op = OPERATIONS[name]
        if name == "resend":
            return self._resend_button(request, obj)
        if obj.status in op.statuses:
            done, errors, not_taken = self._run(request, op, [obj])
            self._report(request, op, done, errors, not_taken)
        else:
            self._report(request, op, [], [], 1)
        return change_redirect(obj.pk)

    def _resend_button(self, request: HttpRequest, obj: SmsMessage) -> HttpResponse:
        """First POST shows the confirmation; the POST with ``post=yes`` resends."""
        if request.POST.get("post") != "yes":
            return self._resend_confirmation(
                request, SmsMessage.objects.filter(pk=obj.pk), from_action=False
            )
        op = OPERATIONS["resend"]
        if obj.status not in op.statuses or not op.takes(obj):
            self._report(request, op, [], [], 1)
            return change_redirect(obj.pk)
        try:
            new = services.resend(obj, defer=True)
        except OPERATION_ERRORS as exc:
            self.message_user(request, f"{op.label}: #{obj.pk}: {error_text(exc)}", messages.ERROR)
            return change_redirect(obj.pk)
        new.refresh_from_db()  # sent on commit (autocommit here: already done)
        self.message_user(
            request,
            _("SMS #%(old)s resent as #%(new)s: %(outcome)s.")
            % {"old": obj.pk, "new": new.pk, "outcome": outcome_text(new)},
            outcome_level(new.status),
        )
        return change_redirect(new.pk)
