"""RQ workers that stop sending cleanly on a warm shutdown.

RQ's own warm shutdown (the first SIGTERM or SIGINT to ``rqworker``) waits for the job
in progress to finish and then exits; a second signal is a cold shutdown that kills it.
For ``send_message_task`` (one message) that is already clean. A ``flush_queue_task``
or a ``sweep_task`` may be sending the whole due queue, though: RQ would wait for all of
it, past a container's stop timeout, and the SIGKILL that follows leaves the claimed
messages SENDING until their lease expires (then UNKNOWN, then a reconciling GET each).

These worker classes use RQ's own hooks to ask the outbox to stop
(:mod:`django_smsrest.outbox.stopping`): the flush in progress claims nothing more, lets
the requests in flight land and records them, gives back at once what it claimed but did
not POST, and the job returns; RQ then exits as usual. Use one with
``--worker-class``::

    python manage.py rqworker --job-class django_tasks_rq.Job \\
        --worker-class django_smsrest.contrib.rq.SimpleWorker sms

* :class:`SimpleWorker` runs jobs in the worker process (what the README's deploy uses):
  the warm-shutdown hook sets the stop request directly.
* :class:`Worker` forks a work horse per job: the hook sends the horse ``SIGUSR1``, which
  the horse turns into the stop request (RQ itself leaves SIGTERM at its default in the
  horse and ignores SIGINT there, so the horse never hears of a warm shutdown otherwise).

Requires ``rq`` (the ``rq`` extra); importing this module imports it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from types import FrameType
from typing import Any

from rq.worker import SimpleWorker as _RqSimpleWorker
from rq.worker import Worker as _RqWorker

from django_smsrest.outbox import stopping

__all__ = ["HORSE_STOP_SIGNAL", "SimpleWorker", "Worker"]

#: What :class:`Worker` sends its work horse on a warm shutdown (unused by RQ itself).
HORSE_STOP_SIGNAL = signal.SIGUSR1


class SimpleWorker(_RqSimpleWorker):
    """``rq.worker.SimpleWorker`` whose warm shutdown also stops the flush in progress."""

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        stopping.request_stop()


def _stop_in_horse(_signum: int, _frame: FrameType | None) -> None:
    stopping.request_stop()


class Worker(_RqWorker):
    """``rq.worker.Worker`` (a work horse per job) whose warm shutdown also stops the
    flush running in the horse, through :data:`HORSE_STOP_SIGNAL`."""

    def setup_work_horse_signals(self) -> None:
        super().setup_work_horse_signals()
        signal.signal(HORSE_STOP_SIGNAL, _stop_in_horse)

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        horse: Any = getattr(self, "horse_pid", 0)
        if horse:
            with contextlib.suppress(ProcessLookupError):  # the job ended meanwhile
                os.kill(horse, HORSE_STOP_SIGNAL)
