"""The dashboard's workers panel: which workers were seen when, and a warning when messages
are due while no worker has been seen for a while.

Kept apart from :mod:`django_smsrest.admin.dashboard` (its own context function and its
own template, included by the dashboard): the read side is
:func:`django_smsrest.services.queue_health` (two queries), shared with ``manage.py
sms_health`` and the Prometheus metrics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from django_smsrest import services
from django_smsrest.models import WorkerKind
from django_smsrest.services.health import QueueHealth


def unattended_warning(health: QueueHealth) -> str:
    """ "No worker seen for N minutes while M messages are due", or ``""`` when a worker
    was seen recently enough or nothing is due."""
    if not health.unattended:
        return ""
    silence = health.silence
    if silence is None:
        return ngettext(
            "No worker has been seen while %(due)d message is due: start send_sms --loop "
            "or a task worker.",
            "No worker has been seen while %(due)d messages are due: start send_sms --loop "
            "or a task worker.",
            health.due,
        ) % {"due": health.due}
    minutes = int(silence.total_seconds() // 60)
    return ngettext(
        "No worker seen for %(minutes)d minutes while %(due)d message is due.",
        "No worker seen for %(minutes)d minutes while %(due)d messages are due.",
        health.due,
    ) % {"minutes": minutes, "due": health.due}


def workers_context(now: datetime | None = None) -> dict[str, Any]:
    """The template context of ``django_smsrest/admin/dashboard_workers.html``."""
    health = services.queue_health(now)
    kinds = dict(WorkerKind.choices)
    return {
        "workers_health": health,
        "workers_warning": unattended_warning(health),
        "workers": [
            {
                "name": w.name,
                "kind": kinds.get(w.kind, w.kind),
                "last_seen": w.last_seen,
                "started_at": w.started_at,
                "silent": w.silent,
                "ago": _("%(s)d s ago") % {"s": int(w.silence.total_seconds())},
            }
            for w in health.workers
        ],
    }
