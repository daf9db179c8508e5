"""The order store: accepted orders, the POSTs that carried each order_id, and credits.

:class:`OrderBook` holds no lock of its own: every method is called with the state's lock
held, and each is a few dict operations, so the critical sections stay short.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from typing import Any

from django_smsrest.sandbox.config import SandboxConfig
from django_smsrest.sandbox.delivery import Order
from django_smsrest.sandbox.replies import Reply, json_reply, ko
from django_smsrest.sandbox.validation import SendRequest


class OrderBook:
    """Orders by order_id (oldest first), POST outcomes per order_id, credit balances."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.orders: dict[str, Order] = {}
        self.posts: defaultdict[str, list[int | str]] = defaultdict(list)
        self.credits = dict(config.credits)
        self._internal_ids = itertools.count(1)

    def clear(self) -> None:
        """Forget every order and POST, refill the credits."""
        self.orders.clear()
        self.posts.clear()
        self.credits = dict(self.config.credits)

    def duplicate(self, order_id: str | None) -> Reply | None:
        """The answer to a repeated order_id, per ``duplicate_order_id``; ``None`` if new."""
        original = self.orders.get(order_id) if order_id else None
        if original is None:
            return None
        if self.config.duplicate_order_id == "accept":
            return json_reply(original.status, original.response)
        return ko(
            400,
            f"order_id {order_id!r} was already used for an accepted order; nothing was sent "
            "again. Use GET sms/{order_id} to see its state.",
            "DUPLICATE_ORDER_ID",
        )

    def charge_and_store(
        self, request: SendRequest, order_id: str | None, now: float, status: int = 201
    ) -> Order | Reply:
        """Take the credits and store the order; a 400 :class:`Reply` when they lack.

        ``status`` is the success status of the endpoint (201 for ``sms``), kept with the
        order so that a duplicate accepted again gets the same answer.
        """
        balance = self.credits.get(request.internal_type, 0)
        if request.cost > balance:
            return ko(
                400,
                f"Not enough credit for message type {request.message_type}: this order "
                f"needs {request.cost} credits ({request.segments} part(s) x "
                f"{len(request.recipients)} recipient(s)), the balance is {balance}.",
                "NOT_ENOUGH_CREDIT",
            )
        self.credits[request.internal_type] = balance - request.cost
        order_id = order_id or uuid.uuid4().hex
        response: dict[str, Any] = {
            "result": "OK",
            "order_id": order_id,
            "total_sent": request.cost if request.return_credits else len(request.recipients),
            "internal_order_id": f"SBX{next(self._internal_ids):09d}",
        }
        if request.return_remaining:
            response["remaining_credits"] = balance - request.cost
        scheduled = request.scheduled_at.timestamp() if request.scheduled_at else None
        order = Order(
            order_id=order_id,
            internal_order_id=response["internal_order_id"],
            request=request,
            created_at=now,
            start_at=scheduled or now,
            step=self.config.step,
            response=response,
            status=status,
        )
        self.orders[order_id] = order
        return order

    def live(self, order_id: str) -> Order | None:
        """The order, unless unknown or cancelled."""
        order = self.orders.get(order_id)
        return None if order is None or order.cancelled else order

    def cancel(self, order_id: str, now: float) -> Reply:
        """``DELETE sms/{order_id}``: only while SCHEDULED; the credits come back."""
        order = self.live(order_id)
        if order is None:
            return ko(404, f"No order with order_id {order_id!r}.", "NOT_FOUND")
        if now >= order.start_at:
            return ko(
                404,
                f"Order {order_id!r} is not scheduled (any more): only a SCHEDULED order "
                "can be cancelled.",
                "NOT_SCHEDULED",
            )
        order.cancelled = True
        kind = order.request.internal_type
        self.credits[kind] = self.credits.get(kind, 0) + order.request.cost
        return json_reply(200, {"result": "OK"})


__all__ = ["OrderBook"]
