"""A process-wide "stop sending" request, for a clean shutdown.

A worker that is told to stop (SIGTERM from a deploy or a container stop, Ctrl-C) must not
leave work half done, and must not make the next worker wait for leases to expire. The
signal handler of the worker (:func:`django_smsrest.management.loop.stop_on_signals`, or a
task worker's own shutdown hook) calls :func:`request_stop`; the send engine asks
:func:`stop_requested` at the points where it is about to take *new* work:

* the batched flush before each claim and before each new POST: it claims nothing more,
  lets the requests already in flight land and records them, and gives back at once
  (QUEUED, no attempt counted) every message it claimed but did not POST;
* the sequential flush before each message;
* the sweep before each reconciliation and status check, and between its phases.

Nothing is interrupted: a request in flight is never abandoned (its outcome would become
unknown and cost a reconciliation). So a stop takes at most one request timeout (connect +
read) after the signal, plus the time to write the results.

One :class:`threading.Event` per process: a signal handler may set it, any thread may read
it. :func:`clear` withdraws the request (the loop does it when it returns, so that a
process that goes on, e.g. a test, sends again).
"""

from __future__ import annotations

import threading

__all__ = ["clear", "request_stop", "stop_requested"]

_stop = threading.Event()


def request_stop() -> None:
    """Ask every flush and sweep of this process to stop taking new work."""
    _stop.set()


def stop_requested() -> bool:
    """Whether :func:`request_stop` was called (and not :func:`clear`-ed since)."""
    return _stop.is_set()


def clear() -> None:
    """Withdraw the stop request."""
    _stop.clear()
