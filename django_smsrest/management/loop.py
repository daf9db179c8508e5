"""The long-lived worker of ``send_sms --loop``: sweep every few seconds, for weeks.

What it survives
----------------
* **Database errors.** A PostgreSQL restart, a failover, ``pg_terminate_backend``, an idle
  connection cut by a proxy, SQLite's "database is locked": any :class:`django.db.Error`
  (``OperationalError``, ``InterfaceError``, every ``DatabaseError``) that escapes a sweep
  is logged (its class and a redacted first line, no traceback, no query parameters), the
  broken connections are dropped, and the loop waits a capped, jittered backoff
  (:class:`Backoff`) before the next sweep, which opens a new connection. Every
  iteration also does what Django does around a request (:func:`refresh_connections`):
  connections that errored or outlived ``CONN_MAX_AGE`` are closed, so a connection
  killed while the loop slept is replaced before it is used.
* **Anything else a sweep raises** (a bug, a receiver's error that escaped): logged with
  its traceback, same backoff, the loop goes on.
* A sweep that *reports* errors (``CommandError`` from the command) is not a reason to
  slow down: it is printed and the loop waits the normal interval.

What happens to the work a dead connection interrupted is the outbox's business, and it is
the same as after a crash: a claim whose result could not be written stays SENDING under
its lease, the next sweep moves it to UNKNOWN and asks ``GET sms/{order_id}`` before
anything else, so nothing is POSTed twice and nothing is lost.

How it stops
------------
:func:`stop_on_signals` turns the first SIGINT or SIGTERM into a stop request: the loop's
own event (it sleeps no longer) and :mod:`django_smsrest.outbox.stopping` (the flush in
progress claims nothing more, lets the requests in flight land and be recorded, and gives
back at once what it claimed but did not POST). The previous handlers are put back at
once, so a second signal acts as it would have without the loop (SIGINT raises
``KeyboardInterrupt``; SIGTERM ends the process): the way out when a stop takes too long.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from django.core.management.base import CommandError
from django.db import Error as DbError
from django.db import connections

from django_smsrest.client.redaction import redact
from django_smsrest.outbox import stopping

__all__ = ["Backoff", "refresh_connections", "run_loop", "stop_on_signals"]

logger = logging.getLogger("django_smsrest.worker")

#: First wait after a failed iteration, and the longest one (seconds).
BACKOFF_BASE = 1.0
BACKOFF_MAX = 60.0

# Jitter needs no cryptographic quality.
_random = random.Random()


class Backoff:
    """Capped exponential backoff with "equal jitter": the n-th failure in a row waits
    between half and all of ``min(maximum, base * 2**(n-1))``. Never zero (a database
    that is down must not be hammered), spread out (a fleet of workers that lost the
    database together does not come back in lockstep). :meth:`reset` after a success."""

    def __init__(self, base: float | None = None, maximum: float | None = None) -> None:
        self.base = BACKOFF_BASE if base is None else base
        self.maximum = BACKOFF_MAX if maximum is None else maximum
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        ceiling = min(self.maximum, self.base * 2 ** (self.failures - 1))
        return ceiling / 2 + _random.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0


def refresh_connections() -> None:
    """Django's ``close_old_connections()`` for a loop instead of a request: close every
    connection that had an error and is unusable, or outlived ``CONN_MAX_AGE``; the next
    query opens a fresh one. A connection inside an atomic block is left alone (closing it
    would break the caller's transaction; the loop never runs inside one)."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


def drop_broken_connections() -> None:
    """After a database error: close every connection that is not inside an atomic block.
    Closing is what makes Django open a new one (it never reconnects a connection object
    that was cut under it); closing a dead connection does not raise."""
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue
        try:
            conn.close()
        except DbError:  # pragma: no cover - psycopg/sqlite3 close a dead link quietly
            conn.connection = None


def describe_error(exc: BaseException) -> str:
    """``"OperationalError: database is locked"``: the class and a redacted first line
    (no DSN password, no parameters), short enough for one log line."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {redact(first, limit=200)}" if first else type(exc).__name__


def run_loop(
    sweep_once: Callable[[], object],
    interval: float,
    stop: threading.Event,
    *,
    on_reported: Callable[[str], None],
    backoff: Backoff | None = None,
) -> None:
    """Call ``sweep_once()`` every ``interval`` seconds until ``stop`` is set.

    ``CommandError`` (a sweep that ran and reported errors) goes to ``on_reported`` and the
    loop waits ``interval``. A :class:`django.db.Error` or any other exception is
    logged on ``django_smsrest.worker``, the connections are dropped and the loop waits
    ``backoff.next_delay()`` (at least as long as ``interval``). ``BaseException``
    (``KeyboardInterrupt``, ``SystemExit``) ends the loop.
    """
    backoff = backoff or Backoff()
    while not stop.is_set():
        refresh_connections()
        delay = interval
        try:
            sweep_once()
        except CommandError as exc:
            backoff.reset()
            on_reported(str(exc))
        except DbError as exc:
            delay = max(interval, backoff.next_delay())
            drop_broken_connections()
            logger.warning(
                "Worker: database error (%s); reconnecting and going on in %.1f s "
                "(failure %d in a row)",
                describe_error(exc),
                delay,
                backoff.failures,
            )
        except Exception:
            delay = max(interval, backoff.next_delay())
            drop_broken_connections()
            logger.exception(
                "Worker: the sweep failed; going on in %.1f s (failure %d in a row)",
                delay,
                backoff.failures,
            )
        else:
            backoff.reset()
        stop.wait(delay)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Within the block, the first SIGINT or SIGTERM sets ``stop`` and asks the outbox to
    stop (:func:`django_smsrest.outbox.stopping.request_stop`), then puts the previous
    handlers back, so that a second signal acts as it would have without the loop.
    On leaving, the previous handlers are restored and the stop request is withdrawn
    (the process may go on doing other things, e.g. in tests). Main thread only."""
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        logger.info("Worker: %s received; finishing what is in flight", name)
        stopping.request_stop()
        stop.set()
        restore()

    for sig in _SIGNALS:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        restore()
        stopping.clear()
