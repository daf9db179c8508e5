"""Transports behind one interface; the ``SMSREST['BACKEND']`` setting picks one.

* ``django_smsrest.backends.rest.RestBackend`` (default): the real gateway over HTTPS.
* ``django_smsrest.backends.locmem.LocmemBackend``: keeps everything in memory, for tests
  (``django_smsrest.backends.locmem.outbox``, like ``django.core.mail.outbox``).
* ``django_smsrest.backends.console.ConsoleBackend``: prints each SMS, for development.
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from django_smsrest.backends.base import BaseBackend, OutgoingOrder, UnsupportedOperation
from django_smsrest.conf import SmsRestSettings, get_settings
from django_smsrest.exceptions import SmsRestConfigurationError

__all__ = ["BaseBackend", "OutgoingOrder", "UnsupportedOperation", "get_backend"]


def get_backend(conf: SmsRestSettings | None = None) -> BaseBackend:
    """An instance of the configured backend (settings read now, never at import time)."""
    conf = conf or get_settings()
    try:
        backend_class = import_string(conf.backend)
    except ImportError as exc:
        raise SmsRestConfigurationError(
            f"SMSREST['BACKEND'] is {conf.backend!r}, which cannot be imported ({exc}). "
            "Use a dotted path such as 'django_smsrest.backends.rest.RestBackend'."
        ) from None
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseBackend)):
        raise SmsRestConfigurationError(
            f"SMSREST['BACKEND'] is {conf.backend!r}, which is not a subclass of "
            "django_smsrest.backends.base.BaseBackend."
        )
    return backend_class(conf)
