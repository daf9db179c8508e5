"""Is the outbox moving? The heartbeat of the workers, and the read side every monitor uses.

* :func:`beat` is the write side: each worker (the ``send_sms --loop`` process every
  iteration, a task worker every flush or sweep, a cron ``--sweep``) records where it runs and
  when it was last seen, in :class:`~django_smsrest.models.SmsWorker`. It costs one
  ``UPDATE`` of one row by primary key, and never raises: a heartbeat that cannot be
  written (the database is away) is logged, and the work goes on.
* :func:`queue_health` is the read side of ``manage.py sms_health``, the admin dashboard's
  workers panel and the Prometheus gauges: two queries, whatever the size of the queue or
  the number of workers. :func:`metrics_snapshot` adds two more (messages by status,
  credits by message type): four in all, always.

"Due" means what the sweep and the flush mean by it: ``QUEUED`` with no next attempt
planned or its time come. A due message has waited since its next attempt came due (or,
never tried, since it was created): a message retried with backoff during a gateway outage
is not "waiting" while its next attempt is in the future.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from django_smsrest import lifecycle
from django_smsrest.conf import get_settings
from django_smsrest.models import SmsMessage, SmsWorker, Status, WorkerKind
from django_smsrest.outbox import due_q

logger = logging.getLogger("django_smsrest.health")

__all__ = [
    "FORGET_AFTER",
    "SILENT_AFTER",
    "MetricsSnapshot",
    "QueueHealth",
    "WorkerSeen",
    "beat",
    "metrics_snapshot",
    "queue_health",
]

#: Worker rows not seen for this long are deleted (by the next worker process that starts).
FORGET_AFTER = timedelta(days=7)
#: A worker not seen for this long is "silent": the dashboard warns when every worker is
#: silent while messages are due. Well above a loop's interval and a flush's length.
SILENT_AFTER = timedelta(minutes=2)
#: How many workers :func:`queue_health` lists at most (the most recently seen first)...
WORKERS_LISTED = 20
#: ... among those seen in this window (and always the last one seen): a worker that
#: was restarted left its old row (another pid), which says nothing about the present and
#: would give the metrics one more label set per restart.
RECENT = timedelta(hours=1)
#: Window of :func:`metrics_snapshot`'s credits: the latest report of each message type
#: among the messages created in it (``created_at`` is indexed; the history is not read).
CREDITS_WINDOW = timedelta(days=30)


# --- the write side -------------------------------------------------------------------------


@dataclass
class _Beat:
    pid: int
    pk: int
    at: float  # time.monotonic() of the last write


_lock = threading.Lock()
_beats: dict[str, _Beat] = {}


def worker_name(kind: str, host: str, pid: int) -> str:
    """``kind@host:pid``; ``cron@host`` for cron runs (one row per host, not per run)."""
    return f"{kind}@{host}" if kind == WorkerKind.CRON else f"{kind}@{host}:{pid}"


def beat(kind: str, *, every: float = 0.0, now: datetime | None = None) -> None:
    """Record that this process, a worker of ``kind`` (a :class:`~django_smsrest.models.
    WorkerKind`), is alive now.

    The first beat of a process writes its row (``update_or_create``, and deletes the rows
    not seen for :data:`FORGET_AFTER`); every later one is a single ``UPDATE ... WHERE
    id = ...``. With ``every`` > 0, a beat less than ``every`` seconds after this process's
    last one does nothing at all (no query): for callers that run once per message. A
    database error is logged and swallowed: the heartbeat must never stop the work it
    reports on (the silence it leaves is what the monitors see).
    """
    pid = os.getpid()
    with _lock:
        known = _beats.get(kind)
    if known is not None and known.pid != pid:
        known = None  # forked: the parent's row is not ours
    if known is not None and every > 0 and time.monotonic() - known.at < every:
        return
    now = now or timezone.now()
    try:
        if known is not None and SmsWorker.objects.filter(pk=known.pk).update(last_seen=now):
            known.at = time.monotonic()
            return
        pk = _register(kind, pid, now)
    except DatabaseError as exc:
        logger.warning("Could not record the heartbeat of this %s worker: %s", kind, exc)
        return
    with _lock:
        _beats[kind] = _Beat(pid=pid, pk=pk, at=time.monotonic())


def _register(kind: str, pid: int, now: datetime) -> int:
    """The first beat of a process: its row (new, or the one of a previous process with
    the same name), started now; and forget the workers long gone."""
    SmsWorker.objects.filter(last_seen__lt=now - FORGET_AFTER).delete()
    host = socket.gethostname()[:150]
    worker, _created = SmsWorker.objects.update_or_create(
        name=worker_name(kind, host, pid)[:200],
        defaults={"host": host, "pid": pid, "kind": kind, "started_at": now, "last_seen": now},
    )
    return worker.pk


def forget_beats() -> None:
    """Forget this process's heartbeat rows (tests: the database was rolled back)."""
    with _lock:
        _beats.clear()


# --- the read side --------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSeen:
    """One worker as the monitors show it."""

    name: str
    kind: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    silence: timedelta  # now - last_seen

    @property
    def silent(self) -> bool:
        return self.silence > SILENT_AFTER


@dataclass(frozen=True)
class QueueHealth:
    """The state of the outbox at ``now``; built by :func:`queue_health` (two queries)."""

    now: datetime
    max_age: timedelta  # SMSREST["HEALTH_MAX_AGE_SECONDS"]
    queued: int  # QUEUED, due or not
    due: int  # QUEUED and due
    oldest_due_since: datetime | None  # when the longest-waiting due message came due
    open_claims: int  # SENDING: claimed by a worker, being sent
    expired_claims: int  # SENDING whose lease ran out (the next sweep takes them over)
    reconciling: int  # UNKNOWN: being checked with the gateway
    workers: list[WorkerSeen] = field(default_factory=list)

    @property
    def oldest_due_age(self) -> timedelta | None:
        """How long the longest-waiting due message has waited; ``None`` if none is due."""
        if self.oldest_due_since is None:
            return None
        return max(self.now - self.oldest_due_since, timedelta(0))

    @property
    def healthy(self) -> bool:
        """No due message has waited longer than ``HEALTH_MAX_AGE_SECONDS``."""
        age = self.oldest_due_age
        return age is None or age <= self.max_age

    @property
    def last_seen(self) -> datetime | None:
        """When any worker was last seen (``None``: never)."""
        return max((w.last_seen for w in self.workers), default=None)

    @property
    def silence(self) -> timedelta | None:
        """How long no worker has been seen (``None``: none ever was)."""
        last = self.last_seen
        return None if last is None else max(self.now - last, timedelta(0))

    @property
    def unattended(self) -> bool:
        """Messages are due and every worker is silent (or none was ever seen): the
        dashboard's warning."""
        silence = self.silence
        return self.due > 0 and (silence is None or silence > SILENT_AFTER)


def queue_health(now: datetime | None = None) -> QueueHealth:
    """The queue and the workers at ``now``, in two queries (one aggregate over the open
    messages, which the status index finds, and the workers: at most
    :data:`WORKERS_LISTED`, seen within :data:`RECENT`, and always the last one seen)."""
    now = now or timezone.now()
    max_age = timedelta(seconds=get_settings().health_max_age_seconds)
    due = Q(status=Status.QUEUED) & due_q(now)
    row = (
        SmsMessage.objects.filter(status__in=lifecycle.IN_FLIGHT)
        .order_by()
        .aggregate(
            queued=Count("pk", filter=Q(status=Status.QUEUED)),
            due=Count("pk", filter=due),
            oldest_due_since=Min(Coalesce("next_attempt_at", "created_at"), filter=due),
            open_claims=Count("pk", filter=Q(status=Status.SENDING)),
            expired_claims=Count("pk", filter=Q(status=Status.SENDING, lease_until__lt=now)),
            reconciling=Count("pk", filter=Q(status=Status.UNKNOWN)),
        )
    )
    workers = [
        WorkerSeen(
            name=w.name,
            kind=w.kind,
            host=w.host,
            pid=w.pid,
            started_at=w.started_at,
            last_seen=w.last_seen,
            silence=max(now - w.last_seen, timedelta(0)),
        )
        for i, w in enumerate(SmsWorker.objects.order_by("-last_seen", "name")[:WORKERS_LISTED])
        if i == 0 or w.last_seen >= now - RECENT
    ]
    return QueueHealth(now=now, max_age=max_age, workers=workers, **row)


@dataclass(frozen=True)
class MetricsSnapshot:
    """What the Prometheus collector exports at one scrape (:func:`metrics_snapshot`)."""

    health: QueueHealth
    by_status: Mapping[str, int]  # every status, 0 included
    credits: Mapping[str, int]  # message type -> the latest remaining credits reported


def metrics_snapshot(now: datetime | None = None) -> MetricsSnapshot:
    """:func:`queue_health` plus messages by status and credits by message type: four
    queries, whatever the number of messages, statuses, message types or workers."""
    now = now or timezone.now()
    health = queue_health(now)
    counted = {
        row["status"]: row["n"]
        for row in SmsMessage.objects.order_by().values("status").annotate(n=Count("pk"))
    }
    by_status = {status.value: counted.get(status.value, 0) for status in Status}
    # The latest message of each type that reported credits: MAX(id) per type in a
    # subquery, the rows themselves in the same query.
    latest = (
        SmsMessage.objects.filter(
            created_at__gte=now - CREDITS_WINDOW, remaining_credits__isnull=False
        )
        .order_by()
        .values("message_type")
        .annotate(last=Max("pk"))
        .values("last")
    )
    credits = {
        mtype: left
        for mtype, left in SmsMessage.objects.filter(pk__in=latest)
        .order_by()
        .values_list("message_type", "remaining_credits")
        if left is not None
    }
    return MetricsSnapshot(health=health, by_status=by_status, credits=credits)
