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

What a backend can do beyond :meth:`~BaseBackend.send` and
:meth:`~BaseBackend.get_status` it says with capability flags, as django.tasks backends do
(``supports_defer``...): the services and the admin ask the flag instead of testing the
class. A method whose flag is off raises :class:`UnsupportedOperation`.

============================ ================================================================
``supports_status``          :meth:`~BaseBackend.get_order`: per-recipient delivery states
``supports_cancel``          :meth:`~BaseBackend.cancel`: cancel a scheduled order
``supports_params``          personalised messages (``POST paramsms``)
``supports_groups``          sending to contact groups (``POST smstogroups``)
``supports_inbound``         reading received SMS (``GET newsrsmsmessage``)
``supports_blacklist``       the gateway's SMS blacklist (``GET/POST blacklist/sms``)
``supports_aliases``         the account's sender aliases (``GET alias``)
``supports_pin``             the gateway's PIN service (``POST 2fa/request``, ``2fa/verify``)
``thread_safe``              :meth:`~BaseBackend.send` may be called from several threads at
                             once (a flush keeps ``CONCURRENCY`` requests in flight); a
                             backend that does not say so is called from one thread, one
                             request at a time
============================ ================================================================
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, NoReturn

from django_smsrest.conf import SmsRestSettings
from django_smsrest.exceptions import SmsRestError
from django_smsrest.results import AccountStatus, OrderReport, PinCheck, SendResult

if TYPE_CHECKING:
    from django_smsrest.client.aliases import AliasPage
    from django_smsrest.client.blacklist import BlacklistPage
    from django_smsrest.client.inbound import ReceivedItem, ReceivedPage


class UnsupportedOperation(SmsRestError, NotImplementedError):
    """The configured backend cannot do this (its capability flag is off)."""


@dataclass(frozen=True)
class OutgoingOrder:
    """One POST to the gateway: the text, its recipients (E.164) and our own ``order_id``;
    ``POST sms`` unless it carries ``params`` (``paramsms``) or ``groups``
    (``smstogroups``). A backend without ``supports_params`` / ``supports_groups`` is
    never handed such an order (the services refuse it before anything is written)."""

    message: str
    recipients: tuple[str, ...]
    message_type: str
    sender: str
    scheduled_delivery_time: datetime | None
    order_id: str
    encoding: str
    #: A personalised order (``POST paramsms``): each recipient's ``${placeholder}``
    #: values, aligned with ``recipients``; empty for the other kinds.
    params: tuple[Mapping[str, str], ...] = ()
    #: An order to contact groups (``POST smstogroups``): their names; ``recipients`` empty.
    groups: tuple[str, ...] = ()
    #: The gateway's optional ``campaign_name`` field ("" leaves it out).
    campaign_name: str = ""


class BaseBackend(abc.ABC):
    """Base class of every backend. Instances are cheap and short-lived: the services
    build one per operation with :func:`django_smsrest.backends.get_backend`, so a
    backend that needs an expensive resource (an HTTP session) caches it itself.

    With ``SMSREST["CONCURRENCY"]`` above 1 a flush calls :meth:`send` from several threads
    at once only when the backend declares ``thread_safe = True`` (the built-in ones do);
    any other is called from the flush's own thread, one request at a time. A database
    connection that :meth:`send` opens on a pool thread is closed after the call."""

    #: Shown by the console backend and in logs.
    name: str = "base"
    supports_status: ClassVar[bool] = False
    supports_cancel: ClassVar[bool] = False
    supports_params: ClassVar[bool] = False
    supports_groups: ClassVar[bool] = False
    supports_inbound: ClassVar[bool] = False
    supports_pin: ClassVar[bool] = False
    thread_safe: ClassVar[bool] = False
    supports_blacklist: ClassVar[bool] = False
    supports_aliases: ClassVar[bool] = False

    def __init__(self, conf: SmsRestSettings) -> None:
        self.conf = conf

    def max_send_seconds(self) -> float:
        """The longest one :meth:`send` can take, in seconds, everything included (waits
        for a shared login, logins, the request's own timeouts). Before a POST starts the
        outbox makes the message's lease cover at least this (plus a margin), so the
        sweeper cannot take a message over while its POST may still reach the gateway.
        Default: one exchange, ``connect + read`` of ``SMSREST["TIMEOUT"]``; a backend whose
        send can take longer must say so here."""
        return float(sum(self.conf.timeout))

    @abc.abstractmethod
    def send(self, order: OutgoingOrder) -> SendResult:
        """Submit ``order``; see the module docstring for the exceptions."""

    @abc.abstractmethod
    def get_status(self) -> AccountStatus:
        """Remaining credits per message type (and money, where the gateway reports it)."""

    def get_order(self, order_id: str) -> OrderReport:
        """The gateway's per-recipient state of ``order_id``; ``OrderNotFound`` if unknown.
        Only where ``supports_status``."""
        self._unsupported("supports_status", "read delivery states")

    def cancel(self, order_id: str) -> None:
        """Cancel a scheduled order; ``OrderNotFound`` if unknown or no longer scheduled.
        Only where ``supports_cancel``."""
        self._unsupported("supports_cancel", "cancel a scheduled message")

    def receive(self, limit: int) -> list[ReceivedItem]:
        """The received SMS not returned before (``GET newsrsmsmessage``), at most ``limit``
        (1..100), oldest first. **Consumes** them: they are not returned again. Only where
        ``supports_inbound``."""
        self._unsupported("supports_inbound", "read received SMS")

    def received_history(
        self,
        date_from: datetime,
        *,
        page: int,
        page_size: int,
        date_to: datetime | None = None,
    ) -> ReceivedPage:
        """Received SMS from ``date_from`` to ``date_to`` (``None``: now) (``GET
        srsmshistory``), one page; consumes nothing. Only where ``supports_inbound``."""
        self._unsupported("supports_inbound", "read received SMS")

    def request_pin(
        self,
        recipient: str,
        *,
        message_body: str | None = None,
        expiry_minutes: int | None = None,
        sender_name: str | None = None,
    ) -> None:
        """Have the gateway make a PIN and send it to ``recipient`` (``POST 2fa/request``;
        ``message_body`` with ``%PIN%``). Only where ``supports_pin``."""
        self._unsupported("supports_pin", "send a gateway PIN")

    def verify_pin(self, recipient: str, pin: str) -> PinCheck:
        """Whether ``pin`` is ``recipient``'s live PIN (``POST 2fa/verify``). Only where
        ``supports_pin``."""
        self._unsupported("supports_pin", "check a gateway PIN")

    def get_blacklist(self, *, page: int, page_size: int, since: datetime | None) -> BlacklistPage:
        """One page of the gateway's blacklist (added since ``since``, all origins). Only
        where ``supports_blacklist``."""
        self._unsupported("supports_blacklist", "read the gateway's blacklist")

    def add_to_blacklist(self, numbers: Sequence[str]) -> None:
        """Blacklist ``numbers`` at the gateway, all or nothing (a ``GatewayRejected``
        when one is refused). Only where ``supports_blacklist``."""
        self._unsupported("supports_blacklist", "add to the gateway's blacklist")

    def get_aliases(self, *, page: int, page_size: int) -> AliasPage:
        """One page of the account's sender aliases. Only where ``supports_aliases``."""
        self._unsupported("supports_aliases", "list the sender aliases")

    def _unsupported(self, flag: str, what: str) -> NoReturn:
        raise UnsupportedOperation(
            f"The {self.name} backend ({type(self).__module__}.{type(self).__qualname__}) "
            f"cannot {what} ({flag} is False)."
        )
