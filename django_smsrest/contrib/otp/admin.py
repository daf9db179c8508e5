"""The admin of the SMS devices (the layout of django-otp's own device admins)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from django_smsrest.contrib.otp.models import GatewayPinDevice, SmsRestDevice


@admin.register(SmsRestDevice)
class SmsRestDeviceAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "number", "created_at", "last_used_at", "confirmed"]
    list_filter = ["created_at", "last_used_at", "confirmed"]
    raw_id_fields = ["user"]
    search_fields = ["number", "name"]
    # The pending token and the throttling state are the device's business, not the
    # staff's: never shown.
    readonly_fields = ["created_at", "last_used_at"]
    fieldsets = [
        (_("Identity"), {"fields": ["user", "name", "confirmed"]}),
        (_("Timestamps"), {"fields": ["created_at", "last_used_at"]}),
        (_("Configuration"), {"fields": ["number"]}),
    ]


@admin.register(GatewayPinDevice)
class GatewayPinDeviceAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "number", "confirmed"]
    list_filter = ["confirmed"]
    raw_id_fields = ["user"]
    search_fields = ["number", "name"]
    fields = ["user", "name", "confirmed", "number"]
