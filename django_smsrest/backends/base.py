"""The transport interface between :mod:`django_smsrest.services` and a gateway.

A backend knows how to hand one gateway order to something (the REST API, a list in
memory, the console) and how to ask about it afterwards. It knows nothing about the
database: the services decide what to send, record every answer and own the state machine.

Contract for implementers (the services rely on it):

* :meth:`BaseBackend.send` either returns a :class:`~django_smsrest.results.SendResult`
  (the order was accepted) or raises an exception of :mod:`django_smsrest.exceptions`:
  a ``NotSentError`` when the order surely was not accepted, a ``MaybeSentError`` when it
  may have been. Anything else is treated as "maybe sent" too.
* It never retries a send by itself: a retry is a decision of the services, after a
  ``GET sms/{order_id}`` when the outcome is unknown.
* :meth:`get_order` raises :class:`~django_smsrest.exceptions.OrderNotFound` for an
  order the gateway does not know (which, after a failed send, means "safe to resend").
* :meth:`cancel` raises ``OrderNotFound`` when the order is unknown or no longer
  scheduled (the gateway answers 404 to ``DELETE`` once sending has started).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django_smsrest.conf import SmsRestSettings
from django_smsrest.results import AccountStatus, OrderReport, SendResult


@dataclass(frozen=True)
class OutgoingOrder:
    """One ``POST sms``: the text, its recipients (E.164) and our own ``order_id``."""

    message: str
    recipients: tuple[str, ...]
    message_type: str
    sender: str
    scheduled_delivery_time: datetime | None
    order_id: str
    encoding: str


class BaseBackend:
    """Base class of every backend. Instances are cheap and short-lived: the services
    build one per operation with :func:`django_smsrest.backends.get_backend`, so a
    backend that needs an expensive resource (an HTTP session) caches it itself."""

    #: Shown by the console backend and in logs.
    name: str = "base"

    def __init__(self, conf: SmsRestSettings) -> None:
        self.conf = conf

    def send(self, order: OutgoingOrder) -> SendResult:  # pragma: no cover - interface
        """Submit ``order``; see the module docstring for the exceptions."""
        raise NotImplementedError

    def get_order(self, order_id: str) -> OrderReport:  # pragma: no cover - interface
        """The gateway's per-recipient state of ``order_id``; ``OrderNotFound`` if unknown."""
        raise NotImplementedError

    def cancel(self, order_id: str) -> None:  # pragma: no cover - interface
        """Cancel a scheduled order; ``OrderNotFound`` if unknown or no longer scheduled."""
        raise NotImplementedError

    def get_status(self) -> AccountStatus:  # pragma: no cover - interface
        """Remaining credits per message type (and money, where the gateway reports it)."""
        raise NotImplementedError
