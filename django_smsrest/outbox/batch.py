"""The concurrent flush: claim due messages a batch at a time, keep up to
``SMSREST['CONCURRENCY']`` POSTs in flight (``1``: one; the same engine), write the results
as they land (a few at a time: with the next claim, within ``WRITE_WITHIN`` seconds, at
once at the end of the queue).

Why threads and ``requests``
----------------------------
HTTP runs in a :class:`~concurrent.futures.ThreadPoolExecutor` of ``CONCURRENCY`` threads
calling ``backend.send``; the REST client already keeps one keep-alive
``requests.Session`` per thread and shares one login (session key) across them, renewed
once under a lock when refused (:mod:`django_smsrest.client.session`). So K threads are K
kept-alive connections and one login, with the same client, the same error mapping and
the same "no hidden repetition" contract as the sequential path. An async client (httpx)
would need a second client with its own error mapping, an event loop inside a synchronous
management command / task, and an async-safe way to reach the ORM; the work a thread does
here is waiting on a socket, which releases the GIL, so threads reach the same K / latency
limit for the K of a gateway (tens, not thousands).

What stays on the flush's own thread
------------------------------------
Every database access: claims, loads, lease renewals, result writes, the per-message
outcomes of a failed POST. The pool threads only call ``backend.send`` (no ORM, no
connection of their own). No transaction is open while a POST is in flight on *this*
thread's connection: each claim and each result write is its own short transaction.

Exactly once
------------
Each order's ``order_id`` was committed with the message, before any POST. A crash
between a POST and the batch's result write leaves the row SENDING with a lease: the
sweeper moves it to UNKNOWN and reconciles it with ``GET sms/{order_id}``, exactly as for
one message. Before each POST the row's lease must still cover the worst case of that send
(:mod:`~django_smsrest.outbox.leases`), else it is renewed with a guarded UPDATE
(:func:`renew_leases`): the sweeper never takes over a message whose POST may still land,
and a flush that stalled past its lease and was taken over does not POST.

One brake
---------
The flush starts with one request in flight and opens up to ``CONCURRENCY`` after the
first success (so a gateway that refuses everything costs one request, not K). A 429
(the account is paused, once, by the ordinary retry path) or a refused login stops new
POSTs for the whole flush; an unreachable gateway drains what is in flight and probes with
one request again; ``give_way_after`` retried outcomes in a row stop the flush. Claimed
messages that were not POSTed go back to QUEUED untouched (no attempt counted).

Queued POSTs
------------
Once the window is fully open (``CONCURRENCY`` > 1), up to ``CONCURRENCY`` more POSTs wait
in the pool's queue behind the ones running, so that the threads go on POSTing while this
thread claims and writes (at zero latency the pool otherwise stood idle through each
claim). A queued POST starts only if, when its thread takes it, the lease still covers
the send and its gate is open: every brake and stop closes the gate (a pool thread that
gets a 429, a refused login or a connection error closes it at once, before this thread
has seen the answer). A POST the gate stops is given back to this thread unsent and goes
first when POSTs may start again, or back to the queue at the end.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Any, TypeVar

from django.db import connections
from django.utils import timezone

from django_smsrest import throttle
from django_smsrest.backends import BaseBackend, OutgoingOrder, get_backend
from django_smsrest.conf import SmsRestSettings
from django_smsrest.exceptions import (
    AuthenticationError,
    GatewayConnectionError,
    RateLimited,
)
from django_smsrest.models import SmsMessage, SmsOrder, Status
from django_smsrest.outbox import leases, stopping
from django_smsrest.outbox.batch_rows import (
    Post,
    load_batch,
    release_untouched,
    renew_leases,
    write_accepted,
)
from django_smsrest.outbox.claims import LostClaim, claim_batch
from django_smsrest.outbox.job import Job
from django_smsrest.outbox.reconnect import reconnect_if_lost
from django_smsrest.outbox.reporting import logger
from django_smsrest.results import SendResult

#: Results written per statement at most, and the largest claim.
BATCH = 100
#: A result that landed is written within this many seconds (with the next claim, or on
#: its own), whatever the batch: a delivery callback or a person looking at the admin
#: must not see SENDING for long what the gateway has accepted.
WRITE_WITHIN = 0.5
#: A claim takes at least this many messages per request in flight (the first claim takes
#: exactly that): enough to keep the pool fed between two claims, few enough that a worker
#: killed with its claim leaves few rows for the sweeper to reconcile (one
#: ``GET sms/{order_id}`` each: nobody knows which of them were POSTed) and that concurrent
#: flushers share the queue evenly.
CLAIM_PER_REQUEST = 4
#: ... and, once POSTs have landed, what this flush sends in this many seconds at the rate
#: it has reached (at most ``BATCH``). A claim costs a few milliseconds whatever its size
#: (three statements compiled and run, a write of the results before it): against a fast
#: gateway, claims of 4 per request spent more time there than on the messages. Bounded
#: in time, a killed worker still leaves about a tenth of a second of sending to reconcile.
CLAIM_SECONDS = 0.1

T = TypeVar("T")

#: ``on_settled(pk, message_or_None, error)``: a message this flush is done with (``None``:
#: another worker had it; ``error``: an unexpected exception, logged).
Settled = Callable[[int, SmsMessage | None, bool], None]


def settle_failure(job: Job, order: SmsOrder, exc: BaseException) -> SmsMessage:
    """The outcome of a failed POST of ``order``, the last pending order of ``job``, by
    :meth:`Job.after_failure` (the same rule as the sequential send)."""
    outcome = job.after_failure(order, exc)
    if isinstance(outcome, SmsMessage):
        return outcome
    job.claim.accept(order, outcome, last=True)
    return job.record.succeed()


class _NotStarted(Exception):
    """A queued POST that its pool thread did not start (the gate closed, or the lease no
    longer covered the send when its turn came): nothing went out; the flush thread takes
    it back (:attr:`BatchFlush.ready`)."""

    def __init__(self, outgoing: OutgoingOrder) -> None:
        super().__init__()
        self.outgoing = outgoing


#: What stops a queued POST from starting: exceptions after which the flush starts no new
#: POST until it has looked at the answer (429, a refused login, an unreachable gateway).
_BRAKES = (RateLimited, AuthenticationError, GatewayConnectionError)


def _post(backend: BaseBackend, order: OutgoingOrder) -> SendResult:
    """``backend.send(order)`` on a pool thread. A backend that used the ORM there opened
    a database connection of that thread's own: closed here, or it would stay open (and,
    on PostgreSQL, hold a server slot) after the thread is gone."""
    try:
        return backend.send(order)
    finally:
        for connection in connections.all(initialized_only=True):
            connection.close()


class _OnThisThread(Executor):
    """An executor that runs each call at once, on the calling thread: the flush's pool
    for a backend that is not thread-safe (the same engine, one request in flight)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed over like a pool thread would
            future.set_exception(exc)
        return future


class BatchFlush:
    """One flush of the due queue with ``concurrency`` POSTs in flight (see the
    module docstring). Use once: ``BatchFlush(conf, ...).run()``."""

    def __init__(
        self,
        conf: SmsRestSettings,
        on_settled: Settled,
        *,
        limit: int | None = None,
        give_way_after: int = 3,
        stop: threading.Event | None = None,
        before_claim: Callable[[], Any] | None = None,
    ) -> None:
        """``stop``: the stop hook. Once set, the flush claims nothing more and starts no
        new POST; the requests in flight land and are written, and what was claimed but
        not POSTed goes straight back to the queue (no attempt counted), then ``run``
        returns with ``stopped == "asked"``."""
        self.conf = conf
        self.stop = stop
        #: Called before each claim of a batch (login codes go first: services.codes).
        self.before_claim = before_claim
        self.on_settled = on_settled
        self.limit = limit
        self.give_way_after = give_way_after
        # One token for every row this flush claims: the flush is one claimant.
        self.token = uuid.uuid4().hex
        self.window = 1  # requests allowed in flight now (slow start, brake)
        self.claimed: deque[Post | Job] = deque()
        self.in_flight: dict[Future[SendResult], Post] = {}
        #: Queued POSTs that were not started (:class:`_NotStarted`), with their outgoing
        #: order: their ``pre_send`` ran; they go out first, after the lease check.
        self.ready: deque[tuple[Post, OutgoingOrder]] = deque()
        #: The gate of the queued POSTs: a POST queued with this token starts only while
        #: it is still the current one (replaced by every brake and stop, from either side).
        self._gate = object()
        #: Braking answers a pool thread got and this thread has not landed yet: no POST
        #: is submitted meanwhile (a POST given back by the closed gate would otherwise go
        #: out again under the new one before the brake is known here).
        self._unlanded_brakes = 0
        self._brakes_lock = threading.Lock()
        self.accepted: list[tuple[Post, SendResult]] = []
        self.accepted_since = 0.0  # when the oldest result not yet written landed
        self.first_post_at = 0.0  # when the first POST was submitted (time.monotonic)
        self.landed = 0  # POSTs answered so far, whatever the answer (the claim size)
        self.after = 0
        self.claimed_total = 0
        self.exhausted = False
        self.retried_in_a_row = 0
        #: Why the flush stopped early: ``"paused"`` (429), ``"gave_way"``, ``"refused"``
        #: (login refused), ``"asked"`` (the stop hook or a shutdown), or ``None`` when it
        #: went through the queue.
        self.stopped: str | None = None
        self.paused_until: datetime | None = None
        self.backend: BaseBackend = get_backend(conf)
        #: Requests in flight at most: ``CONCURRENCY``, or one for a backend that does not
        #: declare ``thread_safe`` (it is then called from this thread only).
        self.concurrency = conf.concurrency if self.backend.thread_safe else 1
        #: POSTs queued in the pool beyond the ones running, once the window is fully open:
        #: the pool threads go on POSTing while this thread claims and writes (without it,
        #: at zero latency the pool stood idle for most of each claim). Each starts only
        #: if, at that moment, the gate is open and the lease still covers the send.
        #: ``CONCURRENCY`` 1 queues nothing: one request out at a time, as documented.
        self.queue_depth = self.concurrency if self.concurrency > 1 else 0

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> None:
        pool: Executor = (
            ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="smsrest-post")
            if self.backend.thread_safe
            else _OnThisThread()
        )
        with pool:
            try:
                while True:
                    self._fill(pool)
                    if len(self.claimed) < self.concurrency:
                        # Claim the next batch while the requests in flight are out, not
                        # after they landed: the database work overlaps the HTTP.
                        self._refill()
                        self._fill(pool)
                    if not self.in_flight:
                        break
                    done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
                    for future in done:
                        self._landed(future)
                    if self._write_due():
                        self._write()
            except BaseException as exc:
                # A database error, an interrupt: the POSTs already out are answered and,
                # as far as the database lets us, recorded; the original error is raised.
                reconnect_if_lost(exc)  # [worker] record on a new connection if it was cut
                self._wind_down(quietly=True)
                raise
            self._wind_down(quietly=False)

    def _wind_down(self, *, quietly: bool) -> None:
        """Land what is in flight, write the results, give back what was not POSTed.
        ``quietly``: an error here is logged, not raised (another one is on its way up).
        Whatever is not written stays SENDING under its lease: the sweeper moves it to
        UNKNOWN and reconciles it with ``GET sms/{order_id}``, never a blind re-POST."""
        self._close_gate()  # queued POSTs do not start: they are given back
        for future in list(self.in_flight):
            future.exception()  # waits for the answer
            self._guarded(quietly, self._landed, future)
        self._guarded(quietly, self._write)
        self._guarded(quietly, self._release)

    @staticmethod
    def _guarded(quietly: bool, func: Callable[..., None], *args: Any) -> None:
        try:
            func(*args)
        except Exception:
            if not quietly:
                raise
            logger.exception("Flush: could not record the end of a batch")

    def _room(self) -> int:
        """POSTs allowed out (running or queued in the pool) now: the window, plus
        :attr:`queue_depth` once it is fully open."""
        if self.window < self.concurrency:
            return self.window
        return self.window + self.queue_depth

    def _close_gate(self) -> None:
        """No queued POST starts any more (a brake, a stop, the wind-down)."""
        self._gate = object()

    def _stop(self, why: str) -> None:
        """Start no new POST for the rest of this flush (:attr:`stopped` says ``why``);
        the queued ones are given back, like on every brake."""
        self.stopped = why
        self._close_gate()

    def _gated(self, gate: object | None, post: Post, outgoing: OutgoingOrder) -> SendResult:
        """A POST on a pool thread, started only if the claim's lease still covers the
        send (the check of :meth:`_hold_lease`, again at the moment the POST starts) and,
        for a queued POST (``gate`` not ``None``), the gate is still ``gate`` and no stop
        was asked; otherwise :class:`_NotStarted`. A braking answer closes the gate at
        once, so no queued POST starts before this thread has acted on it."""
        if (
            gate is not None
            and (
                self._gate is not gate
                or (self.stop is not None and self.stop.is_set())
                or stopping.stop_requested()
            )
        ) or not leases.covers(post.job.msg.lease_until, timezone.now(), self.backend):
            raise _NotStarted(outgoing)
        try:
            return _post(self.backend, outgoing)
        except _BRAKES:
            with self._brakes_lock:
                self._unlanded_brakes += 1
                self._close_gate()
            raise

    def _submit(self, pool: Executor, post: Post, outgoing: OutgoingOrder) -> None:
        if not self.first_post_at:
            self.first_post_at = time.monotonic()
        if self.backend.thread_safe:
            # Within the window: in flight as soon as a thread is free. Beyond it: queued,
            # behind the gate.
            gate = self._gate if len(self.in_flight) >= self.window else None
            future = pool.submit(self._gated, gate, post, outgoing)
        else:
            future = pool.submit(self.backend.send, outgoing)
        self.in_flight[future] = post

    def _fill(self, pool: Executor) -> None:
        """Submit POSTs while the window allows (DB work for them on this thread)."""
        while self.ready and self._may_submit(again=True):
            post, prepared = self.ready.popleft()
            if self._hold_lease(post):
                self._submit(pool, post, prepared)
        while self._may_submit():
            item = self._next()
            if item is None:
                return
            if isinstance(item, Job):
                self._run_sequential(item)
                continue
            # pre_send first, then the lease (as Job.run): a receiver that stalls past
            # the lease must not be followed by a POST of a row taken over meanwhile.
            if not self._pre_send(item):
                continue
            if not self._hold_lease(item):
                continue
            outgoing = item.job.prepare_post(item.order, item.numbers)
            if isinstance(outgoing, SmsMessage):  # a last check ended it: nothing to POST
                self.on_settled(item.pk, outgoing, False)
                continue
            self._submit(pool, item, outgoing)

    def _may_submit(self, *, again: bool = False) -> bool:
        """Whether one more POST may be submitted now: going, and room in the window. A
        POST to be queued behind the gate, or one the gate gave back (``again``), waits
        while a braking answer is on its way from a pool thread (act on it first); one
        within the window goes, as it would have before that answer landed."""
        if not self._going() or len(self.in_flight) >= self._room():
            return False
        return not (self._unlanded_brakes and (again or len(self.in_flight) >= self.window))

    def _going(self) -> bool:
        """Whether new POSTs may start: not stopped by a brake, nor asked to stop (the stop
        hook, or a shutdown of the process: :mod:`~django_smsrest.outbox.stopping`; checked
        before every claim and every POST). What was claimed but not POSTed is given back
        by :meth:`_release`."""
        asked = (self.stop is not None and self.stop.is_set()) or stopping.stop_requested()
        if self.stopped is None and asked:
            logger.info("Flush stopped: asked to stop")
            self._stop("asked")
        return self.stopped is None

    def _next(self) -> Post | Job | None:
        """The next claimed message, claiming a batch when none is left."""
        while not self.claimed:
            if self.exhausted or not self._going():
                return None
            self._refill()
        return self.claimed.popleft()

    def _write_due(self) -> bool:
        """Whether to write the results that landed now rather than with the next claim:
        a full batch, results waiting for ``WRITE_WITHIN`` seconds, or no claim to come
        (the queue is exhausted or the flush stopped): a result is in the database within
        ``WRITE_WITHIN`` of landing, or as soon as it lands at the end of a flush."""
        if not self.accepted:
            return False
        return (
            len(self.accepted) >= BATCH
            or self.exhausted
            or self.stopped is not None
            or time.monotonic() - self.accepted_since >= WRITE_WITHIN
        )

    def _refill(self) -> None:
        """Write what has landed, then claim the next batch unless the account is paused
        or the queue is exhausted."""
        self._write()
        if self.exhausted or not self._going():
            return
        paused = throttle.sending_paused_until(conf=self.conf)
        if paused is not None:
            logger.warning("Flush stopped: sending paused until %s (HTTP 429)", paused)
            self._stop("paused")
            self.paused_until = paused
            return
        if self.before_claim is not None:
            self.before_claim()
        self._claim()

    def _claim_size(self) -> int:
        """How many messages the next claim takes: ``CLAIM_PER_REQUEST`` per request in
        flight, or what this flush sends in ``CLAIM_SECONDS`` at its rate so far if that is
        more; at most ``BATCH``."""
        size = CLAIM_PER_REQUEST * self.concurrency
        if self.landed:
            elapsed = time.monotonic() - self.first_post_at
            if elapsed > 0:
                size = max(size, math.ceil(self.landed / elapsed * CLAIM_SECONDS))
        return min(BATCH, size)

    def _claim(self) -> None:
        size = self._claim_size()
        if self.limit is not None:
            size = min(size, self.limit - self.claimed_total)
        if size <= 0:
            self.exhausted = True
            return
        lease = leases.send_lease(self.conf, self.backend)
        count = claim_batch(
            self.token, timezone.now(), self.conf, after=self.after, size=size, lease=lease
        )
        if not count:
            self.exhausted = True
            return
        items, self.after = load_batch(
            self.token, self.after, count, self.conf, backend=self.backend
        )
        self.claimed_total += count
        self.claimed.extend(items)

    # --- before a POST ----------------------------------------------------------------

    def _hold_lease(self, post: Post) -> bool:
        """Like :meth:`ClaimedMessage.hold_lease` for a batch (the same check,
        :func:`~django_smsrest.outbox.leases.covers`): free while the lease still covers
        the worst case of a send; otherwise renew it for this message and the claimed ones
        behind it in one guarded UPDATE. ``False`` (and settled as skipped) when the row
        was taken over: it must not be POSTed by us."""
        if leases.covers(post.job.msg.lease_until, timezone.now(), self.backend):
            return True
        waiting = [post, *(item for item in self.claimed if isinstance(item, Post))]
        ours = renew_leases(self.token, waiting, post.job.claim.lease())
        lost = [item for item in waiting if item.pk not in ours]
        if lost:
            logger.warning("%d claimed SMS taken over by another worker", len(lost))
            for item in lost:
                if item is not post:
                    self.claimed.remove(item)
                self.on_settled(item.pk, None, False)
        return post.pk in ours

    def _pre_send(self, post: Post) -> bool:
        """The ``pre_send`` signal for one message (as :meth:`Job.pre_send`); ``False``
        when it was vetoed or a receiver failed (settled here)."""
        try:
            veto = post.job.pre_send()
        except LostClaim:
            self.on_settled(post.pk, None, False)
            return False
        except Exception:
            logger.exception("Could not send SMS #%s", post.pk)
            self.on_settled(post.pk, post.job.msg, True)
            return False
        if veto is not None:
            self.on_settled(post.pk, veto, False)
            return False
        return True

    def _run_sequential(self, job: Job) -> None:
        """A message with several orders or a partly sent one: :meth:`Job.run`, on this
        thread (rare; it knows every corner of a partly sent message)."""
        msg: SmsMessage | None = job.msg
        error = False
        try:
            msg = job.run()
        except LostClaim:
            job.msg.refresh_from_db()
            msg = job.msg
        except Exception:
            logger.exception("Could not send SMS #%s", job.msg.pk)
            error = True
        self.on_settled(job.msg.pk, msg, error)
        if msg is not None and not error:
            self._count(msg)

    # --- after a POST -----------------------------------------------------------------

    def _landed(self, future: Future[SendResult]) -> None:
        post = self.in_flight.pop(future)
        exc = future.exception()
        if isinstance(exc, _NotStarted):  # nothing went out: first in line again
            self.ready.appendleft((post, exc.outgoing))
            return
        self.landed += 1
        if isinstance(exc, _BRAKES) and self.backend.thread_safe:
            with self._brakes_lock:
                self._unlanded_brakes -= 1
        if exc is None:
            if not self.accepted:
                self.accepted_since = time.monotonic()
            self.accepted.append((post, future.result()))
            self.window = self.concurrency
            self.retried_in_a_row = 0
            return
        msg: SmsMessage | None = None
        error = False
        try:
            msg = settle_failure(post.job, post.order, exc)
        except LostClaim:
            post.job.msg.refresh_from_db()
            msg = post.job.msg
        except Exception:
            logger.exception("Could not send SMS #%s", post.pk)
            msg, error = post.job.msg, True
        self.on_settled(post.pk, msg, error)
        if isinstance(exc, RateLimited):
            self._stop("paused")
            self.paused_until = throttle.sending_paused_until(conf=self.conf) or (
                msg.next_attempt_at if msg is not None else None
            )
        elif isinstance(exc, AuthenticationError):
            logger.error("Flush stopped: the gateway refused the login")
            self._stop("refused")
        elif isinstance(exc, GatewayConnectionError):
            # Drain what is in flight, then probe with one request.
            self.window = 1
            self._close_gate()
        if not error and msg is not None:
            self._count(msg)

    def _count(self, msg: SmsMessage) -> None:
        """The give-way rule: ``give_way_after`` messages in a row back in the queue."""
        self.retried_in_a_row = self.retried_in_a_row + 1 if msg.status == Status.QUEUED else 0
        if self.retried_in_a_row >= self.give_way_after and self.stopped is None:
            logger.warning(
                "Flush stopped: %d messages in a row must be retried later (%s)",
                self.retried_in_a_row,
                msg.last_error,
            )
            self._stop("gave_way")

    def _write(self) -> None:
        """Write the accepted results (constant number of statements), then tell."""
        if not self.accepted:
            return
        batch, self.accepted = self.accepted, []
        batch.sort(key=lambda item: item[0].pk)
        try:
            lost = write_accepted(self.token, batch, self.conf)
        except BaseException:
            # [worker] One transaction: nothing was written. Kept for the wind-down, which
            # writes them again on a new connection when this one was cut.
            self.accepted = batch + self.accepted
            raise
        for post, _result in batch:
            job = post.job
            if post.pk in lost:
                logger.warning(
                    "SMS #%s: lease lost while sending; another worker took over", post.pk
                )
                job.msg.refresh_from_db()
            else:
                job.record.announce_sent()
            self.on_settled(post.pk, job.msg, False)

    def _release(self) -> None:
        """Give back what was claimed and never POSTed (no attempt counted)."""
        left = [post.pk for post, _outgoing in self.ready]
        left += [item.msg.pk if isinstance(item, Job) else item.pk for item in self.claimed]
        self.ready.clear()
        self.claimed.clear()
        if left:
            release_untouched(self.token, left)
