"""Delivery simulation: the states each recipient of an accepted order walks through.

Each recipient walks through states as the sandbox clock passes ``step`` seconds per state,
counted from acceptance (or from the scheduled time): ``WAITING -> SENT -> WAIT4DLVR ->
DLVRD`` for types with a delivery report (N, GP) and ``WAITING -> SENT`` for the others;
``SCHEDULED`` before the scheduled time. Numbers ending in the suffixes of
:data:`TEST_NUMBERS` follow a scripted path instead. Pure functions of the clock: nothing
here holds a lock or a reference to the sandbox state.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django_smsrest.sandbox.validation import SendRequest

_WITH_REPORT = ("WAITING", "SENT", "WAIT4DLVR", "DLVRD")
_WITHOUT_REPORT = ("WAITING", "SENT")


@dataclass(frozen=True)
class ScriptedNumber:
    """The state path of a recipient whose number ends with a test suffix.

    ``with_report`` applies to types with a delivery report (N, GP), ``without_report`` to
    the others. ``final`` is False for a path that stops in a non-final state.
    """

    state: str
    description: str
    with_report: tuple[str, ...]
    without_report: tuple[str, ...]
    final: bool = True


def _fails(state: str, description: str) -> ScriptedNumber:
    return ScriptedNumber(state, description, ("WAITING", state), ("WAITING", state))


#: Numbers ending with these digits end in a failure (or odd) state; any other number
#: is delivered. E.g. ``+393470000001`` always ends UNKNRCPT.
TEST_NUMBERS: Mapping[str, ScriptedNumber] = {
    "0001": _fails("UNKNRCPT", "unknown recipient: fails right after WAITING"),
    "0002": _fails("BLACKLISTED", "number in the blacklist (STOP): fails after WAITING"),
    "0003": _fails("ERROR", "generic delivery error after WAITING"),
    "0004": _fails("KO", "rejected by the operator's SMSC after WAITING"),
    "0005": ScriptedNumber(
        "TIMEOUT",
        "no delivery report within the operator's window: ends TIMEOUT (types with a "
        "report); SENT for the others",
        ("WAITING", "SENT", "WAIT4DLVR", "TIMEOUT"),
        _WITHOUT_REPORT,
    ),
    "0006": _fails("TOOM4NUM", "too many SMS to this number: fails after WAITING"),
    "0008": ScriptedNumber(
        "WAIT4DLVR",
        "the delivery report never arrives: stays WAIT4DLVR forever (types with a report); "
        "SENT for the others",
        ("WAITING", "SENT", "WAIT4DLVR"),
        _WITHOUT_REPORT,
        final=False,
    ),
}


def progression(destination: str, delivery_report: bool) -> tuple[tuple[str, ...], bool]:
    """(states in order, whether the last one is final) for one recipient."""
    scripted = TEST_NUMBERS.get(destination[-4:])
    if scripted is not None:
        if delivery_report:
            return scripted.with_report, scripted.final
        return scripted.without_report, True
    return (_WITH_REPORT if delivery_report else _WITHOUT_REPORT), True


@dataclass
class Order:
    """One accepted ``POST sms``. ``start_at`` is when the first state (WAITING) begins."""

    order_id: str
    internal_order_id: str
    request: SendRequest
    created_at: float
    start_at: float
    step: float
    response: dict[str, Any]
    status: int = 201
    cancelled: bool = False
    fault: str | None = None

    def states(self, now: float, tz: zoneinfo.ZoneInfo) -> list[dict[str, str]]:
        """Per-recipient ``{destination, status, delivery_date}`` at sandbox time ``now``."""
        elapsed = now - self.start_at
        result = []
        for destination in self.request.recipients:
            if elapsed < 0:
                result.append(
                    {"destination": destination, "status": "SCHEDULED", "delivery_date": ""}
                )
                continue
            states, final = progression(destination, self.request.delivery_report)
            index = min(int(elapsed // self.step), len(states) - 1)
            done = final and index == len(states) - 1
            date = format_date(self.start_at + index * self.step, tz) if done else ""
            result.append(
                {"destination": destination, "status": states[index], "delivery_date": date}
            )
        return result

    def inspect(self, now: float, tz: zoneinfo.ZoneInfo, posts: list[int | str]) -> dict[str, Any]:
        request = self.request
        return {
            "order_id": self.order_id,
            "endpoint": request.endpoint,
            "internal_order_id": self.internal_order_id,
            "message": request.message,
            "message_type": request.message_type,
            "sender": request.sender,
            "recipients": list(request.recipients),
            "texts": list(request.texts) if request.texts is not None else None,
            "groups": list(request.groups),
            "dropped_recipients": list(request.dropped_recipients),
            "encoding": request.encoding,
            "segments": request.segments,
            "credits": request.cost,
            "campaign_name": request.campaign_name,
            "created_at": iso_date(self.created_at, tz),
            "scheduled_delivery_time": (
                request.scheduled_at.astimezone(tz).isoformat() if request.scheduled_at else None
            ),
            "schedule_note": request.schedule_note,
            "cancelled": self.cancelled,
            "fault": self.fault,
            "states": self.states(now, tz),
            "posts": len(posts),
            "post_answers": list(posts),
        }


def format_date(timestamp: float, tz: zoneinfo.ZoneInfo) -> str:
    return datetime.fromtimestamp(timestamp, tz).strftime("%Y%m%d%H%M%S")


def iso_date(timestamp: float, tz: zoneinfo.ZoneInfo) -> str:
    return datetime.fromtimestamp(timestamp, tz).isoformat(timespec="milliseconds")


__all__ = ["TEST_NUMBERS", "Order", "ScriptedNumber", "format_date", "iso_date", "progression"]
