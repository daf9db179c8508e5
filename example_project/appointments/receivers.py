"""Queue a reminder SMS when an appointment is created.

Why this is safe: ``queue_sms`` writes the ``SmsMessage`` row in the same database
transaction as the appointment and enqueues the send task only when that transaction
commits. If saving the appointment rolls back, the SMS row disappears with it and nothing
is sent; if the process dies after the commit, the sweeper (``send_sms --sweep``) still
finds the queued row. A bad phone number must not make the appointment unsavable, so a
validation error is logged, not raised (the model's validator catches it in forms first).
"""

import logging
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from django_smsrest import queue_sms

from .models import Appointment

logger = logging.getLogger(__name__)

#: How long before the appointment the reminder goes out.
REMIND_BEFORE = timedelta(hours=24)


def reminder_text(appointment: Appointment) -> str:
    when = timezone.localtime(appointment.starts_at)
    return (
        f"Hi {appointment.name}, see you on {when:%d/%m} at {when:%H:%M}. Reply STOP to opt out."
    )


def reminder_time(appointment: Appointment) -> Any:
    """24 hours before, or now (``None``) when that moment is already (nearly) past."""
    at = appointment.starts_at - REMIND_BEFORE
    return at if at > timezone.now() + timedelta(minutes=5) else None


@receiver(post_save, sender=Appointment, dispatch_uid="appointments.queue_reminder")
def queue_reminder(
    sender: type[Appointment], instance: Appointment, created: bool, **kwargs: Any
) -> None:
    if not created or kwargs.get("raw"):
        return  # only new appointments; never while loading fixtures
    try:
        message = queue_sms(
            reminder_text(instance),
            [instance.phone],
            scheduled_delivery_time=reminder_time(instance),
        )
    except ValidationError as exc:
        logger.warning("No reminder for appointment #%s: %s", instance.pk, "; ".join(exc.messages))
        return
    # update(), not save(): no second post_save, and no race with a concurrent edit.
    Appointment.objects.filter(pk=instance.pk).update(reminder=message)
    instance.reminder = message
