"""Test helpers for projects that send SMS through django-smsrest.

Configure the locmem backend in the test settings::

    SMSREST = {..., "BACKEND": "django_smsrest.backends.locmem.LocmemBackend"}

then, with pytest (register the fixture with
``pytest_plugins = ["django_smsrest.testing.outbox"]`` in ``conftest.py``)::

    def test_welcome(sms_outbox):
        signup(phone="+393471234567")
        assert_sms_sent(to="+393471234567", text_contains="Welcome")

or with unittest, call :func:`clear_outbox` in ``setUp``. :data:`outbox` is the locmem
backend's list: one :class:`~django_smsrest.backends.base.OutgoingOrder` per gateway order.
"""

from __future__ import annotations

from collections.abc import Iterator

from django_smsrest.backends import locmem
from django_smsrest.backends.base import OutgoingOrder
from django_smsrest.backends.locmem import fail_next, set_credits, set_delivery_state

__all__ = [
    "assert_sms_sent",
    "clear_outbox",
    "fail_next",
    "outbox",
    "set_credits",
    "set_delivery_state",
    "sms_outbox",
]

#: The locmem backend's outbox (the same list object; it is cleared in place).
outbox: list[OutgoingOrder] = locmem.outbox


def clear_outbox() -> None:
    """Empty the outbox and reset the fake gateway (orders, injected faults, credits), and
    lift the account-wide pause an injected 429 leaves in the cache
    (:mod:`django_smsrest.throttle`), which would otherwise hold the next test's sends."""
    from django_smsrest import throttle

    locmem.reset()
    throttle.clear_pause()


def _describe(orders: list[OutgoingOrder]) -> str:
    if not orders:
        return "  (the outbox is empty)"
    lines = []
    for order in orders:
        text = order.message if len(order.message) <= 60 else order.message[:59] + "…"
        lines.append(f"  - to {', '.join(order.recipients)}: {text!r}")
    return "\n".join(lines)


def assert_sms_sent(
    *,
    to: str | None = None,
    text_contains: str | None = None,
    count: int | None = None,
) -> list[OutgoingOrder]:
    """Assert that SMS matching the filters were sent; return the matching orders.

    ``to``: an E.164 number among the recipients; ``text_contains``: a substring of the
    text; ``count``: exactly this many matching orders (default: at least one). The
    assertion message lists what the outbox does contain.
    """
    matching = [
        order
        for order in outbox
        if (to is None or to in order.recipients)
        and (text_contains is None or text_contains in order.message)
    ]
    ok = len(matching) == count if count is not None else bool(matching)
    if not ok:
        wanted = []
        if to is not None:
            wanted.append(f"to {to}")
        if text_contains is not None:
            wanted.append(f"containing {text_contains!r}")
        expected = f"exactly {count}" if count is not None else "at least one"
        raise AssertionError(
            f"Expected {expected} SMS {' '.join(wanted) or '(any)'}, found {len(matching)}. "
            f"The outbox holds {len(outbox)} order(s):\n{_describe(outbox)}"
        )
    return matching


try:
    import pytest
except ImportError:  # pytest is optional; the helpers above work without it
    pass
else:

    @pytest.fixture
    def sms_outbox() -> Iterator[list[OutgoingOrder]]:
        """The locmem outbox, empty at the start of the test and reset after it."""
        clear_outbox()
        yield outbox
        clear_outbox()
