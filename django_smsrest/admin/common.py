"""What the admin's modules share: limits, the errors reported instead of a 500, the one
permission check for the operations, and small helpers.

The permission rule, in one place (:func:`may_operate`): everything that sends, resends,
refreshes or cancels needs the custom ``send_smsmessage`` permission *and* the right to see
the message (``view_`` or ``change_smsmessage``). Without the second, the resend
confirmation page would show a message's text and delivery states to someone whose change
page answers 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from django_smsrest import lifecycle, phone
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import SmsRestError
from django_smsrest.models import SmsMessage, Status

#: Recipients shown inline on a message's page; the rest are one click away.
RECIPIENT_INLINE_LIMIT = 50
#: Messages listed by name on the resend confirmation page.
CONFIRMATION_LIST_LIMIT = 100

# Errors an operation on one message may raise that are reported to the user rather than
# turned into a 500: the gateway's, a refusal by services (ValueError), a validation error.
OPERATION_ERRORS: tuple[type[Exception], ...] = (
    SmsRestError,
    ValueError,
    ValidationError,
    ImproperlyConfigured,
)


def _perm(action: str) -> str:
    opts = SmsMessage._meta
    return f"{opts.app_label}.{action}_{opts.model_name}"


def may_view_messages(request: HttpRequest) -> bool:
    """Whether the user may see messages (and so their recipients, orders and statistics:
    they are part of a message, not separate objects with their own audience)."""
    user = request.user
    return user.has_perm(_perm("view")) or user.has_perm(_perm("change"))


def may_send(request: HttpRequest) -> bool:
    """The custom permission that gates everything that spends credits or cancels."""
    return request.user.has_perm(_perm("send"))


def may_operate(request: HttpRequest) -> bool:
    """The one check for every action, button and the add form: send permission and view
    permission (the operations show or change a message the user must be allowed to see)."""
    return may_send(request) and may_view_messages(request)


def change_redirect(pk: int) -> HttpResponseRedirect:
    """Back to a message's (view) page."""
    return HttpResponseRedirect(reverse("admin:django_smsrest_smsmessage_change", args=[pk]))


def error_text(exc: Exception) -> str:
    """A failure of one operation as a line fit to show (the app's exceptions carry no
    secret by construction)."""
    if isinstance(exc, ValidationError):
        return "; ".join(str(m) for m in exc.messages)
    return str(exc) or type(exc).__name__


def as_phone_number(term: str) -> str | None:
    """``term`` in E.164 if it reads as a phone number (default region applies), else None."""
    if not any(ch.isdigit() for ch in term):
        return None
    try:
        return phone.normalize(term, get_settings().default_region)
    except (ValueError, ImproperlyConfigured):
        return None


def outcome_level(status: str, *, asked: str = "") -> int:
    """The banner level a message's status deserves: an error when it reached nobody, a
    warning while it is still open (queued for a retry, sending, unknown) or was stopped
    or only partly delivered, success when the gateway took it, or when it is what the
    person ``asked`` for (``"cancel"`` and it is cancelled)."""
    if status in lifecycle.FAILED_OUTCOMES:
        return messages.ERROR
    if asked == "cancel" and status == Status.CANCELLED:
        return messages.SUCCESS
    if status in lifecycle.IN_FLIGHT or status in (Status.CANCELLED, Status.PARTIALLY_DELIVERED):
        return messages.WARNING
    return messages.SUCCESS


def outcome_text(msg: SmsMessage) -> str:
    """``"Failed: <reason>"``, ``"Queued (next attempt at 15:32): <reason>"``, ``"Sent"``."""
    text = str(msg.get_status_display())
    if msg.status in lifecycle.IN_FLIGHT and msg.next_attempt_at is not None:
        when = formats.time_format(timezone.localtime(msg.next_attempt_at), "TIME_FORMAT")
        text = _("%(status)s (next attempt at %(time)s)") % {"status": text, "time": when}
    if msg.last_error and (msg.status in lifecycle.FAILED_OUTCOMES | lifecycle.IN_FLIGHT):
        text = f"{text}: {msg.last_error}"
    return text


class ReadOnlyForViewers:
    """For the admin pages that only show rows (a message's recipients, its orders): nothing
    is added, changed or deleted there, and whoever may view messages may see them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_view_messages(request)
