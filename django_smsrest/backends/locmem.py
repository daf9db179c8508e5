"""An in-memory gateway for tests: like ``django.core.mail.backends.locmem``.

Every accepted order is appended to the module-level :data:`outbox` list (an
:class:`~django_smsrest.backends.base.OutgoingOrder` per ``POST``, so a message with 2,500
recipients and 1,000 per order makes three entries). Orders are also kept in memory so
that ``get_order`` and ``cancel`` behave like the gateway's:

* a scheduled order (delivery time in the future) reports ``SCHEDULED`` and can be
  cancelled; once cancelled, or once its time has passed, ``DELETE`` is a 404;
* any other order reports ``SENT`` for every recipient until a test moves it on with
  :func:`set_delivery_state` (e.g. to ``DLVRD``);
* an unknown order id raises :class:`~django_smsrest.exceptions.OrderNotFound`.

Tests can make the next call fail with :func:`fail_next` (optionally *after* accepting
the order, to simulate a read timeout once the gateway has it). Use
:mod:`django_smsrest.testing.outbox` for the helpers and the pytest fixture.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from django_smsrest.backends.base import BaseBackend, OutgoingOrder
from django_smsrest.client.inbound import ReceivedItem, ReceivedPage
from django_smsrest.exceptions import GatewayRejected, OrderNotFound
from django_smsrest.results import (
    AccountStatus,
    DeliveryState,
    OrderReport,
    PinCheck,
    RecipientState,
    SendResult,
)

#: Every accepted order, oldest first. Cleared in place (never rebound) so that
#: ``from django_smsrest.backends.locmem import outbox`` stays valid.
outbox: list[OutgoingOrder] = []
#: ``(number, text)`` of every PIN the fake gateway's PIN service sent, oldest first.
sent_pins: list[tuple[str, str]] = []

#: Credits left on the fake account; each accepted order spends segments x recipients.
DEFAULT_CREDITS = 1_000_000


@dataclass
class _Order:
    order: OutgoingOrder
    states: dict[str, tuple[DeliveryState, datetime | None]]
    cancelled: bool = False


@dataclass
class _Fault:
    operation: str
    exc: BaseException
    accept: bool


@dataclass
class _State:
    orders: dict[str, _Order] = field(default_factory=dict)
    faults: deque[_Fault] = field(default_factory=deque)
    credits: int = DEFAULT_CREDITS
    calls: dict[str, int] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The gateway's PIN service: the live PIN per number.
    pins: dict[str, str] = field(default_factory=dict)


_lock = threading.RLock()
_state = _State()


def reset() -> None:
    """Empty the outbox and forget every order, fault and call count; refill the credits."""
    with _lock:
        outbox.clear()
        _state.orders.clear()
        _state.faults.clear()
        _state.credits = DEFAULT_CREDITS
        _state.calls.clear()
        _state.groups.clear()
        _state.pins.clear()
        sent_pins.clear()
        _inbox.clear()


def set_groups(groups: dict[str, list[str]]) -> None:
    """Define the fake account's contact groups: name -> E.164 numbers. An order to a
    group not defined here is refused with a 400, as the gateway does."""
    with _lock:
        _state.groups = {name: tuple(numbers) for name, numbers in groups.items()}


def fail_next(operation: str, exc: BaseException, *, accept: bool = False) -> None:
    """Make the next ``operation`` (``"send"``, ``"get_order"``, ``"cancel"``,
    ``"get_status"``, ``"receive"``, ``"received_history"``) raise ``exc``. With
    ``accept=True`` (``send``, ``receive``) the order is accepted and recorded first (the
    messages consumed): the "gateway got it but the answer was lost" case."""
    if operation not in (
        "send",
        "get_order",
        "cancel",
        "get_status",
        "request_pin",
        *_INBOUND_OPERATIONS,
    ):
        raise ValueError(f"unknown operation {operation!r}")
    with _lock:
        _state.faults.append(_Fault(operation, exc, accept))


def set_credits(credits: int) -> None:
    """Set the fake account's remaining credits (reported after each send)."""
    with _lock:
        _state.credits = credits


def calls(operation: str) -> int:
    """How many times ``operation`` was called (including failed calls)."""
    with _lock:
        return _state.calls.get(operation, 0)


def set_delivery_state(
    state: str | DeliveryState,
    *,
    order_id: str | None = None,
    to: str | None = None,
    delivery_date: datetime | None = None,
) -> int:
    """Move recipients to ``state`` (e.g. ``"DLVRD"``), as the gateway would report them.

    Filters: ``order_id`` (one order) and/or ``to`` (one E.164 number); neither means every
    recipient of every order. Returns how many recipients changed.
    """
    new = DeliveryState.parse(str(state))
    when = delivery_date or (timezone.now() if new is DeliveryState.DLVRD else None)
    changed = 0
    with _lock:
        for oid, stored in _state.orders.items():
            if order_id is not None and oid != order_id:
                continue
            for number in stored.states:
                if to is None or number == to:
                    stored.states[number] = (new, when)
                    changed += 1
    return changed


def _take_fault(operation: str) -> _Fault | None:
    with _lock:
        _state.calls[operation] = _state.calls.get(operation, 0) + 1
        for fault in _state.faults:
            if fault.operation == operation:
                _state.faults.remove(fault)
                return fault
    return None


class LocmemBackend(BaseBackend):
    """Keeps orders in memory; nothing leaves the process."""

    name = "locmem"
    supports_status = True
    supports_cancel = True
    supports_params = True
    supports_groups = True
    thread_safe = True  # the shared state changes under one lock

    def max_send_seconds(self) -> float:
        return 0.0  # in memory: nothing to wait for

    def send(self, order: OutgoingOrder) -> SendResult:
        from django_smsrest.segments import count_segments

        fault = _take_fault("send")
        if fault is not None and not fault.accept:
            raise fault.exc
        scheduled = (
            order.scheduled_delivery_time is not None
            and order.scheduled_delivery_time > timezone.now()
        )
        initial = DeliveryState.SCHEDULED if scheduled else DeliveryState.SENT
        with _lock:
            numbers = self._destinations(order)
            cost = sum(
                count_segments(text, order.encoding).segments for text in _texts(order, numbers)
            )
            outbox.append(order)
            _state.orders[order.order_id] = _Order(order, dict.fromkeys(numbers, (initial, None)))
            _state.credits -= cost
            remaining = _state.credits
            accepted = len(outbox)
        self.announce(order)
        if fault is not None:
            raise fault.exc
        return SendResult(
            order_id=order.order_id,
            total_sent=len(numbers),
            remaining_credits=remaining,
            internal_order_id=f"LOCMEM-{accepted}",
        )

    @staticmethod
    def _destinations(order: OutgoingOrder) -> tuple[str, ...]:
        """The numbers an order reaches: its recipients, or its groups' members (an
        unknown group is the gateway's 400). Caller holds the lock."""
        if not order.groups:
            return order.recipients
        unknown = [name for name in order.groups if name not in _state.groups]
        if unknown:
            raise GatewayRejected(
                f"HTTP 400: group not found: {', '.join(unknown)}", status_code=400
            )
        return tuple(dict.fromkeys(n for name in order.groups for n in _state.groups[name]))

    def announce(self, order: OutgoingOrder) -> None:
        """Hook called after an order is accepted (the console backend prints it)."""

    def _stored(self, order_id: str) -> _Order:
        stored = _state.orders.get(order_id)
        if stored is None or stored.cancelled:
            raise OrderNotFound(f"Order {order_id} not found", status_code=404)
        return stored

    def get_order(self, order_id: str) -> OrderReport:
        fault = _take_fault("get_order")
        if fault is not None:
            raise fault.exc
        with _lock:
            stored = self._stored(order_id)
            due = stored.order.scheduled_delivery_time
            if due is not None and due <= timezone.now():
                # The scheduled time has come: the gateway sends it.
                for number, (state, when) in stored.states.items():
                    if state is DeliveryState.SCHEDULED:
                        stored.states[number] = (DeliveryState.SENT, when)
            recipients = [
                RecipientState(number, state, when, state.value)
                for number, (state, when) in stored.states.items()
            ]
        return OrderReport(order_id=order_id, recipients=recipients)

    def cancel(self, order_id: str) -> None:
        fault = _take_fault("cancel")
        if fault is not None:
            raise fault.exc
        with _lock:
            stored = self._stored(order_id)
            due = stored.order.scheduled_delivery_time
            if due is None or due <= timezone.now():
                raise OrderNotFound(f"Order {order_id} is not scheduled", status_code=404)
            stored.cancelled = True

    def get_status(self) -> AccountStatus:
        fault = _take_fault("get_status")
        if fault is not None:
            raise fault.exc
        with _lock:
            credits = _state.credits
        return AccountStatus(credits=dict.fromkeys(self.conf.message_types, credits))

    # -- the gateway's PIN service ------------------------------------------------------

    supports_pin = True

    def request_pin(
        self,
        recipient: str,
        *,
        message_body: str | None = None,
        expiry_minutes: int | None = None,
        sender_name: str | None = None,
    ) -> None:
        fault = _take_fault("request_pin")
        if fault is not None:
            raise fault.exc
        pin = f"{secrets.randbelow(10**6):06d}"
        body = message_body or "Your PIN is %PIN%"
        with _lock:
            _state.pins[recipient] = pin
            sent_pins.append((recipient, body.replace("%PIN%", pin)))

    def verify_pin(self, recipient: str, pin: str) -> PinCheck:
        with _lock:
            valid = _state.pins.get(recipient) == pin
            if valid:
                del _state.pins[recipient]
        return PinCheck(valid=valid, raw={"status": "OK" if valid else "ERROR"})

    # -- received SMS (see :func:`deliver_inbound`) -------------------------------------

    supports_inbound = True

    def receive(self, limit: int) -> list[ReceivedItem]:
        fault = _take_fault("receive")
        if fault is not None and not fault.accept:
            raise fault.exc
        with _lock:
            fresh = [entry for entry in _inbox if not entry[1]][:limit]
            for entry in fresh:
                entry[1] = True  # consumed, like the gateway's cursor
        if fault is not None:  # accept=True: consumed, then the answer is lost
            raise fault.exc
        return [item for item, _consumed in fresh]

    def received_history(
        self,
        date_from: datetime,
        *,
        page: int,
        page_size: int,
        date_to: datetime | None = None,
    ) -> ReceivedPage:
        fault = _take_fault("received_history")
        if fault is not None:
            raise fault.exc
        with _lock:
            found = [
                item
                for item, _consumed in reversed(_inbox)
                if item.received_at is None
                or (
                    item.received_at >= date_from
                    and (date_to is None or item.received_at <= date_to)
                )
            ]
        return ReceivedPage(
            items=found[(page - 1) * page_size : page * page_size],
            total=len(found),
            page_number=page,
            page_size=page_size,
        )


def _texts(order: OutgoingOrder, numbers: tuple[str, ...]) -> list[str]:
    """The text each destination receives (personalised per recipient for ``params``)."""
    if order.params:
        from django_smsrest.personalise import render

        return [render(order.message, values) for values in order.params]
    return [order.message] * len(numbers)


_INBOUND_OPERATIONS = ("receive", "received_history")
#: Received SMS, oldest first, each with its "consumed by the cursor" flag.
_inbox: list[list[Any]] = []


def deliver_inbound(
    sender: str, text: str, *, sim: str = "+393400000000", received_at: datetime | None = None
) -> ReceivedItem:
    """Make the fake account receive an SMS: the next ``receive`` returns it (once), and
    ``received_history`` always does. ``fail_next("receive", exc, accept=True)`` makes the
    next ``receive`` consume messages and then raise, as a poller that died after the GET."""
    when = received_at or timezone.now()
    with _lock:
        gateway_id = str(len(_inbox) + 1)
        raw = {"id": gateway_id, "id_sim": sim, "phoneNumber": sender, "text": text}
        item = ReceivedItem(gateway_id, sender, sim, text, when, raw)
        _inbox.append([item, False])
    return item
