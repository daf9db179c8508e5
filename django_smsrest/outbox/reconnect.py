"""Telling a lost database connection from other errors, and trying once more on a new one.

Django never reconnects a connection object that was cut under it (a PostgreSQL restart,
``pg_terminate_backend``, a proxy's idle timeout): every later query raises
``InterfaceError`` / ``OperationalError`` until the connection is closed. So a loop over
messages that catches "any exception, log it, go on" would log one failure per message
for nothing; :func:`connection_lost` lets it stop and hand the error to the worker, which
reconnects and backs off (:mod:`django_smsrest.management.loop`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

__all__ = ["connection_lost", "once_more_after_reconnect", "reconnect_if_lost"]

P = ParamSpec("P")
R = TypeVar("R")


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be used right now (connection closed or
    refused, server shutting down, SQLite "database is locked"): the next query would fail
    the same way, so going on with the next message is pointless."""
    return isinstance(exc, InterfaceError | OperationalError)


def reconnect_if_lost(exc: BaseException) -> bool:
    """When ``exc`` says the connection was lost and no atomic block is open, close the
    connection so that the next query opens a new one (Django never does it by itself);
    whether it did. For the clean-up after such an error: the flush's results and the
    release of its unposted claims are then written at once, instead of waiting for the
    leases to expire and a reconciling GET per message."""
    connection = connections[DEFAULT_DB_ALIAS]
    if not connection_lost(exc) or connection.in_atomic_block:
        return False
    connection.close()
    return True


def once_more_after_reconnect(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``func(*args, **kwargs)``; when it fails because the connection was lost (and no
    atomic block is open, whose transaction a new connection could not continue), close
    the connection and call it once more on a new one. For short, idempotent writes that
    are worth saving, e.g. releasing a lock whose holder is finishing."""
    try:
        return func(*args, **kwargs)
    except (InterfaceError, OperationalError):
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.in_atomic_block:
            raise
        connection.close()
        return func(*args, **kwargs)
