"""django-smsrest: send SMS through the smSend / Skebby / Mobyt REST API from Django.

The public entry points are :func:`send_sms`, :func:`queue_sms` (and :func:`queue_many`),
:func:`send_code`, :func:`suppress` and :func:`unsuppress`, the very functions of
:mod:`django_smsrest.services` (one signature, defined there). They are looked up on first
use (PEP 562), so importing this package touches neither settings nor models: it is safe in
``settings.py`` and before ``django.setup()``. ``__version__`` is read from the installed
distribution's metadata, also on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_smsrest.services import (
        queue_many,
        queue_sms,
        send_code,
        send_sms,
        suppress,
        unsuppress,
    )

_PUBLIC = ("send_sms", "queue_sms", "queue_many", "send_code", "suppress", "unsuppress")
__all__ = [
    "__version__",
    "queue_many",
    "queue_sms",
    "send_code",
    "send_sms",
    "suppress",
    "unsuppress",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        from django_smsrest import services

        return getattr(services, name)
    if name == "__version__":
        from importlib.metadata import version

        return version("django-smsrest")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
