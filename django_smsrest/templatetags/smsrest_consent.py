"""``{% load smsrest_consent %}``: the staging-override banner of the admin pages."""

from __future__ import annotations

from typing import Any

from django import template

from django_smsrest.conf import get_settings
from django_smsrest.exceptions import SmsRestConfigurationError

register = template.Library()


@register.inclusion_tag("django_smsrest/admin/override_banner.html")
def override_banner() -> dict[str, Any]:
    """While ``SMSREST["OVERRIDE_RECIPIENTS"]`` is on: the numbers every SMS goes to."""
    try:
        numbers = get_settings().override_recipients
    except SmsRestConfigurationError:  # the settings check reports it; the page still shows
        numbers = ()
    return {"smsrest_override": ", ".join(numbers)}
