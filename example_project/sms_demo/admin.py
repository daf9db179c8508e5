from django.contrib import admin

from .models import SentMessage


@admin.register(SentMessage)
class SentMessageAdmin(admin.ModelAdmin):
    list_display = ("message", "user", "created_at")
    list_select_related = ("message", "user")
    raw_id_fields = ("message", "user")
