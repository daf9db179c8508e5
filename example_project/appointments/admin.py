from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Appointment


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("name", "phone", "starts_at", "reminder_status")
    list_select_related = ("reminder",)
    readonly_fields = ("reminder",)
    date_hierarchy = "starts_at"

    @admin.display(description=_("reminder"))
    def reminder_status(self, obj: Appointment) -> str:
        return obj.reminder.get_status_display() if obj.reminder else "—"
