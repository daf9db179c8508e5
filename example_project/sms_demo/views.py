"""Send an SMS from a page and watch its delivery status.

The views are thin: :class:`django_smsrest.forms.SendSmsForm` validates through
``services.validate_sms`` and sends through ``django_smsrest.send_sms``; the status page
asks ``services.refresh_status`` and reloads itself until the status is final.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from two_factor.views import LoginView as TwoFactorLoginView

from django_smsrest import lifecycle, services
from django_smsrest.contrib.delivery import CodeNotSent
from django_smsrest.exceptions import GatewayError
from django_smsrest.forms import SendSmsForm
from django_smsrest.models import SmsMessage, Status

from .models import SentMessage

#: Who may open any message's status page, not only the ones they sent.
VIEW_ANY_PERMISSION = "django_smsrest.view_smsmessage"
#: Seconds between two automatic reloads of the status page.
RELOAD_SECONDS = 3
#: At most one status request to the gateway per message in this many seconds, however many
#: tabs are reloading the page.
REFRESH_THROTTLE_SECONDS = 2


@login_required
@sensitive_post_parameters()
def send(request: HttpRequest) -> HttpResponse:
    form = SendSmsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # send_sms commits the SmsMessage and sends it right away (not inside our
        # transaction: the HTTP call must not hold one open), then we record who sent it.
        message = form.send()
        with transaction.atomic():
            SentMessage.objects.create(user=request.user, message=message)
        # A refusal is shown by the status page (status and last_error), once.
        return redirect("sms_demo:detail", pk=message.pk)
    recent = (
        SentMessage.objects.filter(user=request.user)
        .select_related("message")
        .order_by("-created_at")[:10]
    )
    return render(request, "sms_demo/send.html", {"form": form, "recent": recent})


def _is_final(message: SmsMessage) -> bool:
    return message.finished_at is not None or message.status in lifecycle.FINAL


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    # Its author, or whoever may read the whole outbox (the model's view permission, as in
    # the admin). Being staff is not enough: the page shows someone else's text and numbers
    # and asks the gateway about them. Anyone else gets the same 404 as for a missing
    # message, before any gateway request.
    if request.user.has_perm(VIEW_ANY_PERMISSION):
        message = get_object_or_404(SmsMessage, pk=pk)
    else:
        message = get_object_or_404(SentMessage, message_id=pk, user=request.user).message
    error = ""
    # A message scheduled for later has nothing to report yet: no polling, no reloading.
    later = message.status == Status.SCHEDULED and (
        message.scheduled_delivery_time is not None
        and message.scheduled_delivery_time > timezone.now() + timedelta(minutes=2)
    )
    due = message.status in lifecycle.POLLABLE and not later and not _is_final(message)
    if due and cache.add(f"sms_demo:refreshed:{pk}", True, REFRESH_THROTTLE_SECONDS):
        try:
            message = services.refresh_status(message)
        except GatewayError as exc:
            error = _("Could not ask the gateway for the delivery status: %(error)s") % {
                "error": exc
            }
    final = _is_final(message)
    context = {
        "message": message,
        "recipients": message.recipients.order_by("id")[:100],
        "final": final,
        "later": later,
        "reload_seconds": None if final or later else RELOAD_SECONDS,
        "error": error,
    }
    return render(request, "sms_demo/detail.html", context)


class CodeLoginView(TwoFactorLoginView):
    """django-two-factor-auth's login, which says so on the token step when the code could
    not be sent (the library lets an error of ``generate_challenge`` through as a 500)."""

    def render(self, form: Any = None, **kwargs: Any) -> HttpResponse:
        try:
            return super().render(form, **kwargs)
        except (CodeNotSent, ValidationError) as exc:
            text = str(exc) if isinstance(exc, CodeNotSent) else " ".join(exc.messages)
            messages.error(self.request, text)
            # The wizard's own render, without asking for another code.
            response: HttpResponse = super(TwoFactorLoginView, self).render(form, **kwargs)
            return response
