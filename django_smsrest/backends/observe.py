"""A small hook on every gateway call the REST backend makes, for metrics.

:class:`~django_smsrest.backends.rest.RestBackend` wraps each call (``send``,
``get_order``, ``cancel``, ``get_status``, ...) in :func:`observed`; every observer added
with :func:`add_observer` is then told ``(call, outcome, seconds)`` when the call ends.
Nothing is measured while no observer is registered (the common case: metrics off).

``outcome`` says what the answer means, in the terms of :mod:`django_smsrest.exceptions`:
``ok`` (answered; for ``send``: the order was accepted), ``rejected`` (400: bad input),
``rate_limited`` (429), ``auth_failed`` (login or keys refused), ``not_sent`` (no
connection: surely not sent), ``maybe_sent`` (timeout, 5xx, dropped connection,
unexpected answer: reconciled later) or ``error`` (anything else).

An observer must be quick and must not raise (an exception in one is logged and ignored:
measuring never breaks a send).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django_smsrest.exceptions import (
    AuthenticationError,
    GatewayRejected,
    MaybeSentError,
    NotSentError,
    RateLimited,
)

__all__ = ["Observer", "add_observer", "observed", "outcome_of", "remove_observer"]

logger = logging.getLogger("django_smsrest.backends")

#: ``observer(call, outcome, seconds)``
Observer = Callable[[str, str, float], None]

_lock = threading.Lock()
_observers: tuple[Observer, ...] = ()


def add_observer(observer: Observer) -> None:
    """Tell ``observer`` about every gateway call from now on (once, however often added)."""
    global _observers
    with _lock:
        if observer not in _observers:
            _observers = (*_observers, observer)


def remove_observer(observer: Observer) -> None:
    global _observers
    with _lock:
        _observers = tuple(o for o in _observers if o is not observer)


def outcome_of(exc: BaseException | None) -> str:
    """The ``outcome`` label of a call that raised ``exc`` (``None``: it answered)."""
    if exc is None:
        return "ok"
    for kind, label in (
        (GatewayRejected, "rejected"),
        (RateLimited, "rate_limited"),
        (AuthenticationError, "auth_failed"),
        (NotSentError, "not_sent"),
        (MaybeSentError, "maybe_sent"),
    ):
        if isinstance(exc, kind):
            return label
    return "error"


@contextmanager
def observed(call: str) -> Iterator[None]:
    """Time the gateway call in the block and tell the observers how it ended."""
    observers = _observers  # one read: a tuple, replaced (never changed) under the lock
    if not observers:
        yield
        return
    started = time.perf_counter()
    error: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        error = exc
        raise
    finally:
        seconds = time.perf_counter() - started
        outcome = outcome_of(error)
        del error  # no reference cycle through the traceback
        for observer in observers:
            try:
                observer(call, outcome, seconds)
            except Exception:
                logger.exception("A gateway call observer failed")
