"""The :class:`Secret` wrapper for the password, the session key and the access token.

Tracebacks rendered with their locals (Django's DEBUG technical 500 page, Sentry, pytest's
``--showlocals``) show the ``repr`` of every local variable and argument of every frame. A
password held in a plain ``str`` shows up there as soon as anything in that frame raises:
a timezone typo in the client's constructor was enough. So from the settings to the wire a
secret travels inside a :class:`Secret`, whose ``repr`` and ``str`` are a mask, and is
unwrapped with :meth:`Secret.reveal` only where the HTTP request is built.

Ground layer: no Django, nothing at import time.
"""

from __future__ import annotations

import hmac

__all__ = ["Secret", "reveal"]

_MASK = "********"


class Secret:
    """A string that never shows itself: ``repr``, ``str`` and ``format`` give a mask.

    Truthiness is the wrapped value's (an empty secret is "not set"). Equality with another
    ``Secret`` or a ``str`` compares the values in constant time. Wrapping a ``Secret``
    again returns an equal ``Secret`` holding the same value.
    """

    __slots__ = ("_value",)

    _value: str

    def __init__(self, value: str | Secret | None) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if value is None:
            value = ""
        if not isinstance(value, str):
            # Not the value itself in the message: it may be the secret of another type.
            raise TypeError(f"a Secret wraps a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The wrapped value. Call it only where the value is put on the wire."""
        return self._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Secret is immutable")

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return _MASK if self._value else ""

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            other = other._value
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # copy/deepcopy/pickle keep the value (a settings copy must still log in); the
        # pickled bytes are not a place a human reads.
        return (Secret, (self._value,))


def reveal(value: str | Secret | None) -> str:
    """The plain value of ``value`` (a :class:`Secret`, a ``str`` or ``None``)."""
    if isinstance(value, Secret):
        return value.reveal()
    return value or ""
