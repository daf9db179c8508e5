"""``manage.py sms_health``: is the outbox moving? For a liveness probe, a cron alert or a
load balancer's health check.

Prints the queue (queued, due, how long the oldest due message has waited), the open
claims and the workers with when each was last seen, then exits:

* 0: no due message has waited longer than ``SMSREST["HEALTH_MAX_AGE_SECONDS"]``;
* 1: one has (the workers are stopped, stuck, or cannot keep up);
* 2: the settings are wrong (like every command of the app).

A thin shell over :func:`django_smsrest.services.queue_health` (two queries).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_smsrest import services
from django_smsrest.management.cli import EXIT_FAILED, usage_error
from django_smsrest.models import WorkerKind
from django_smsrest.services.health import QueueHealth


def _seconds(value: Any) -> int:
    return round(value.total_seconds())


def health_lines(health: QueueHealth) -> list[str]:
    """What the command prints, one line each (without the verdict)."""
    age = health.oldest_due_age
    lines = [
        _("Queue: %(queued)d queued, %(due)d due; oldest due waiting %(age)s (limit %(max)d s).")
        % {
            "queued": health.queued,
            "due": health.due,
            "age": _("%(s)d s") % {"s": _seconds(age)} if age is not None else _("none"),
            "max": _seconds(health.max_age),
        },
        _(
            "Claims: %(open)d being sent (%(expired)d past their lease), "
            "%(unknown)d being reconciled."
        )
        % {
            "open": health.open_claims,
            "expired": health.expired_claims,
            "unknown": health.reconciling,
        },
    ]
    if not health.workers:
        lines.append(_("Workers: none seen yet."))
        return lines
    lines.append(_("Workers (%(n)d):") % {"n": len(health.workers)})
    kinds = dict(WorkerKind.choices)
    for worker in health.workers:
        lines.append(
            "  "
            + _("%(name)s (%(kind)s): last seen %(ago)d s ago, started %(started)s")
            % {
                "name": worker.name,
                "kind": kinds.get(worker.kind, worker.kind),
                "ago": _seconds(worker.silence),
                "started": timezone.localtime(worker.started_at).isoformat(timespec="seconds"),
            }
        )
    return lines


HELP = gettext_lazy(
    "Print the outbox's health (queue, claims, workers last seen); exit 1 when a due "
    'message has waited longer than SMSREST["HEALTH_MAX_AGE_SECONDS"], else 0.'
)


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per instance, so the help is in the language active when the command runs.
        self.help = str(HELP)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            health = services.queue_health()
        except ImproperlyConfigured as exc:
            raise usage_error(_("Configuration error: %(error)s") % {"error": exc}) from None
        self.stdout.write("\n".join(health_lines(health)))
        if not health.healthy:
            raise CommandError(
                _(
                    "Unhealthy: a due message has waited %(age)d s, more than "
                    'SMSREST["HEALTH_MAX_AGE_SECONDS"] (%(max)d s). Are the workers running?'
                )
                % {"age": _seconds(health.oldest_due_age), "max": _seconds(health.max_age)},
                returncode=EXIT_FAILED,
            )
        self.stdout.write(_("Healthy."))
