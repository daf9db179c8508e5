"""A development backend: prints every SMS to stdout and otherwise behaves like locmem
(orders kept in memory, ``get_order``/``cancel`` work, entries appended to the locmem
``outbox``)."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from django_smsrest.backends.base import OutgoingOrder
from django_smsrest.backends.locmem import LocmemBackend

_print_lock = threading.Lock()


class ConsoleBackend(LocmemBackend):
    """Writes each accepted order to ``stream`` (``sys.stdout`` at call time)."""

    name = "console"
    stream: TextIO | None = None

    def announce(self, order: OutgoingOrder) -> None:
        stream = self.stream or sys.stdout
        when = (
            order.scheduled_delivery_time.isoformat() if order.scheduled_delivery_time else "now"
        )
        lines = [
            "-" * 72,
            f"SMS order {order.order_id} ({order.message_type}, {order.encoding}, "
            f"sender {order.sender or '(default)'}, send {when})",
            f"To ({len(order.recipients)}): {', '.join(order.recipients)}",
            "",
            order.message,
            "-" * 72,
        ]
        with _print_lock:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
