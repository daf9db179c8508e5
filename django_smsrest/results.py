"""Typed answers of the gateway and the per-recipient delivery state codes.

Plain Python (no Django imports) so that the client, the backends, the services and the
sandbox all speak the same vocabulary.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


class DeliveryState(enum.StrEnum):
    """Per-recipient states reported by ``GET sms/{order_id}`` (the gateway's wire values).

    ``UNKNOWN`` is ours: any code the gateway sends that is not in this list.
    ``SUPPRESSED`` is ours as well: the recipient opted out and was skipped.
    """

    WAITING = "WAITING"
    SCHEDULED = "SCHEDULED"
    SENT = "SENT"
    WAIT4DLVR = "WAIT4DLVR"
    DLVRD = "DLVRD"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"
    TOOM4NUM = "TOOM4NUM"
    TOOM4USER = "TOOM4USER"
    UNKNPFX = "UNKNPFX"
    UNKNRCPT = "UNKNRCPT"
    INVALIDDST = "INVALIDDST"
    BLACKLISTED = "BLACKLISTED"
    KO = "KO"
    INVALIDCONTENTS = "INVALIDCONTENTS"
    DEMO = "DEMO"
    UNKNOWN = "UNKNOWN"
    #: Ours too: a marketing recipient on the suppression list, never posted nor charged.
    SUPPRESSED = "SUPPRESSED"

    @classmethod
    def parse(cls, value: str | None) -> DeliveryState:
        """The state for a wire value; ``UNKNOWN`` for anything unexpected."""
        try:
            return cls((value or "").strip().upper())
        except ValueError:
            return cls.UNKNOWN

    @property
    def label(self) -> Any:
        """What the state means, for people: a lazy translation (``str()`` it where shown),
        e.g. ``"Waiting for receipt"`` for ``WAIT4DLVR``. Django is imported here, on use,
        so that the module stays importable without it (the sandbox)."""
        from django.utils.translation import gettext_lazy

        return gettext_lazy(_LABELS[self])

    @property
    def english(self) -> str:
        """:attr:`label` untranslated, for places without Django settings (the sandbox)."""
        return _LABELS[self]

    @property
    def is_failure(self) -> bool:
        return self in FAILURE_STATES

    @property
    def is_delivered(self) -> bool:
        return self is DeliveryState.DLVRD

    def is_final(self, *, delivery_report: bool) -> bool:
        """Whether no later state can follow.

        SENT is the last state for message types without a delivery report, and an
        intermediate one for those with it.
        """
        if self is DeliveryState.SENT:
            return not delivery_report
        return self in FINAL_STATES


FAILURE_STATES = frozenset(
    {
        DeliveryState.ERROR,
        DeliveryState.TIMEOUT,
        DeliveryState.TOOM4NUM,
        DeliveryState.TOOM4USER,
        DeliveryState.UNKNPFX,
        DeliveryState.UNKNRCPT,
        DeliveryState.INVALIDDST,
        DeliveryState.BLACKLISTED,
        DeliveryState.KO,
        DeliveryState.INVALIDCONTENTS,
    }
)
FINAL_STATES = FAILURE_STATES | {
    DeliveryState.DLVRD,
    DeliveryState.DEMO,
    DeliveryState.SUPPRESSED,
}


def _(text: str) -> str:
    # Marks the labels for makemessages; DeliveryState.label translates them on use.
    return text


_LABELS: Mapping[DeliveryState, str] = {
    DeliveryState.WAITING: _("Waiting to be sent"),
    DeliveryState.SCHEDULED: _("Scheduled"),
    DeliveryState.SENT: _("Sent to the operator"),
    DeliveryState.WAIT4DLVR: _("Waiting for receipt"),
    DeliveryState.DLVRD: _("Delivered"),
    DeliveryState.ERROR: _("Delivery error"),
    DeliveryState.TIMEOUT: _("No receipt within 48 hours"),
    DeliveryState.TOOM4NUM: _("Too many messages to this number"),
    DeliveryState.TOOM4USER: _("Too many messages from this account"),
    DeliveryState.UNKNPFX: _("Unknown prefix"),
    DeliveryState.UNKNRCPT: _("Unknown recipient"),
    DeliveryState.INVALIDDST: _("Invalid destination"),
    DeliveryState.BLACKLISTED: _("Number blacklisted"),
    DeliveryState.KO: _("Rejected by the operator"),
    DeliveryState.INVALIDCONTENTS: _("Content refused"),
    DeliveryState.DEMO: _("Demo mode, not really sent"),
    DeliveryState.UNKNOWN: _("Unknown state"),
    DeliveryState.SUPPRESSED: _("Opted out, not sent"),
}


def delivery_label(value: str) -> str:
    """A recipient's delivery state for people, with the gateway's code alongside:
    ``"Delivered (DLVRD)"``, ``"Waiting for receipt (WAIT4DLVR)"`` (translated); an
    unexpected code is shown as the gateway sent it, and no code as "No report yet"."""
    from django.utils.translation import gettext

    if not value:
        return gettext("No report yet")
    return f"{DeliveryState.parse(value).label} ({value})"


@dataclass(frozen=True)
class SendResult:
    """The answer to ``POST sms`` (HTTP 201)."""

    order_id: str
    total_sent: int
    remaining_credits: int | None = None
    internal_order_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class RecipientState:
    """One element of ``recipients[]`` in ``GET sms/{order_id}``."""

    destination: str
    state: DeliveryState
    delivery_date: datetime | None = None
    raw_status: str = ""


@dataclass(frozen=True)
class OrderReport:
    """The answer to ``GET sms/{order_id}``."""

    order_id: str
    recipients: Sequence[RecipientState]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class AccountStatus:
    """The answer to ``GET status``: credits per message type, and money when asked for."""

    credits: Mapping[str, int]
    money: Decimal | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class HistoryEntry:
    """One order in ``GET smshistory``."""

    order_id: str
    create_time: datetime | None
    schedule_time: datetime | None
    message_type: str
    sender: str
    num_recipients: int


@dataclass(frozen=True)
class HistoryPage:
    """The answer to ``GET smshistory``."""

    total: int
    page_number: int
    page_size: int
    orders: Sequence[HistoryEntry]


@dataclass(frozen=True)
class PinCheck:
    """The answer of ``POST 2fa/verify``: whether the PIN was right, the tries the gateway
    says are left (``None`` when it does not say), and the answer as it came (its field
    names are undocumented)."""

    valid: bool
    remaining_tries: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
