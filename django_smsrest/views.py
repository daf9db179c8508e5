"""The delivery-callback endpoint (optional, off by default).

Include it in the project's URLconf::

    path("sms/", include("django_smsrest.urls")),

and set the gateway's callback URL (in its web panel) to
``https://example.com/sms/callback/<token>/`` where ``<token>`` is one of
``SMSREST["CALLBACK_TOKENS"]``. With no token configured every request is a 404.

The provider signs nothing, so the secret in the URL is the only proof of origin: it is
compared in constant time against every configured token (a list, so a new one can be added
before the old one is removed). A wrong token is a 404, indistinguishable from no endpoint.
A report for an order we do not know is answered 200 and logged: answering an error would
only make the provider retry it forever. A report that is itself broken (missing fields, a
``delivery_date`` that is unreadable or outside 2000-2099) is a 400 and changes nothing.
CSRF-exempt (the caller has no cookie), GET and POST, the fields as form or query
parameters.
"""

from __future__ import annotations

import hmac

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from django_smsrest.conf import get_settings
from django_smsrest.services.callbacks import CallbackOutcome, record_delivery_report

__all__ = ["delivery_callback"]


def _token_accepted(token: str) -> bool:
    given = token.encode()
    # Every token is compared (no early exit), each in constant time.
    matches = [
        hmac.compare_digest(given, t.reveal().encode()) for t in get_settings().callback_tokens
    ]
    return any(matches)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def delivery_callback(request: HttpRequest, token: str) -> HttpResponse:
    """One delivery report: ``order_id``, ``recipient``, ``status``, ``delivery_date``."""
    if not _token_accepted(token):
        raise Http404
    fields = {**request.GET.dict(), **request.POST.dict()}
    missing = [name for name in ("order_id", "recipient", "status") if not fields.get(name)]
    if missing:
        return HttpResponseBadRequest(
            f"missing {', '.join(missing)}", content_type="text/plain; charset=utf-8"
        )
    outcome = record_delivery_report(
        fields["order_id"], fields["recipient"], fields["status"], fields.get("delivery_date")
    )
    if outcome is CallbackOutcome.BAD_DATE:
        return HttpResponseBadRequest(
            "delivery_date is not a yyyyMMddHHmmss date between 2000 and 2099",
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(f"OK {outcome}", content_type="text/plain; charset=utf-8")
