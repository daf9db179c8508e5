"""Delivery callbacks: POST each recipient's state change to ``callback_url``.

The documentation has no callback API (reference §7.3, [U]); a plugin for a brand of the
same platform says the gateway calls a URL set in the web panel with ``order_id``,
``status``, ``recipient`` and ``delivery_date``. The sandbox does that when
``callback_url`` is set (``--callback-url`` or ``POST /_sandbox/config``): it POSTs those
four form fields (``application/x-www-form-urlencoded``) whenever it sees a recipient's
state differ from the last one it saw (the first baseline is the state at acceptance:
``WAITING`` or ``SCHEDULED``). Moving the clock by several steps at once posts only the
state reached, not the ones jumped over.

One background thread per server (:class:`CallbackNotifier`) looks every
:data:`POLL_SECONDS` and posts one callback at a time with a :data:`TIMEOUT_SECONDS`
timeout; a failure is one line on standard error (the URL without its query string, which
may hold a token) and a record in ``/_sandbox/orders`` (``callbacks``), never a retry.
Only loopback URLs are allowed, so the sandbox can never be turned into a tool that posts
to other machines.
"""

from __future__ import annotations

import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

from django_smsrest.sandbox.config import check_callback_url
from django_smsrest.sandbox.state import SandboxState

POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 5.0


def _redacted(url: str) -> str:
    return url.partition("?")[0]


class CallbackNotifier:
    """Watches the orders of one state and posts their recipients' state changes."""

    def __init__(self, state: SandboxState, stopping: threading.Event) -> None:
        self.state = state
        self.stopping = stopping
        self._seen: dict[str, list[str]] = {}
        self._done: set[str] = set()
        # Counts the watcher's completed looks (callbacks on or off), for wait_looks().
        self._looks = 0
        self._looked = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="smsrest-sandbox-callbacks")
        self.thread.daemon = True

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(POLL_SECONDS):
            if self.state.config.callback_url:
                try:
                    self.tick()
                except Exception as error:  # never let the thread die
                    sys.stderr.write(f"[sandbox] callback watcher error: {error!r}\n")
            with self._looked:
                self._looks += 1
                self._looked.notify_all()

    def wait_looks(self, count: int = 2, timeout: float = 10.0) -> bool:
        """Block until the watcher has completed ``count`` more looks (``False`` on
        timeout). A look posts what it saw change before it counts, so after two (one
        begun after this call) every change made before the call has been posted, and
        nothing else will be: what a test waits for before it says "nothing was posted"."""
        with self._looked:
            target = self._looks + count
            return self._looked.wait_for(lambda: self._looks >= target, timeout)

    def tick(self) -> None:
        """One look at every unfinished order; post what changed since the last look."""
        state = self.state
        if state.book_generation != getattr(self, "_generation", None):
            self._seen.clear()  # reset: forget what was seen
            self._done.clear()
            self._generation = state.book_generation
        with state._lock:
            orders = [o for o in state.book.orders.values() if o.order_id not in self._done]
        now, tz = state.now(), state.tz
        for order in orders:
            if self.stopping.is_set():
                return
            if order.cancelled:
                self._done.add(order.order_id)
                continue
            current = order.states(now, tz)
            before = self._seen.get(order.order_id)
            if before is None:
                before = [s["status"] for s in order.states(order.created_at, tz)]
            for old, new in zip(before, current, strict=True):
                if new["status"] != old:
                    self._post(order.order_id, new)
            self._seen[order.order_id] = [s["status"] for s in current]
            if all(s["delivery_date"] for s in current):
                self._done.add(order.order_id)

    def _post(self, order_id: str, recipient: dict[str, str]) -> None:
        url = self.state.config.callback_url
        if not url:
            return
        fields = {
            "order_id": order_id,
            "recipient": recipient["destination"],
            "status": recipient["status"],
            "delivery_date": recipient["delivery_date"],
        }
        request = urllib.request.Request(  # noqa: S310 - loopback http(s) only, checked
            url,
            data=urllib.parse.urlencode(fields).encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        outcome: int | str
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                outcome = response.status
        except urllib.error.HTTPError as error:
            outcome = error.code
        except (OSError, ValueError) as error:
            outcome = f"failed: {type(error).__name__}"
        if not isinstance(outcome, int) or outcome >= 400:
            sys.stderr.write(
                f"[sandbox] delivery callback to {_redacted(url)} for order {order_id} "
                f"({fields['status']}): {outcome}\n"
            )
        self.state.record_callback({**fields, "outcome": outcome})


__all__ = ["CallbackNotifier", "check_callback_url"]
