"""Reading the gateway's JSON answers into :mod:`django_smsrest.results` dataclasses."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from django_smsrest.client.dates import parse_gateway_datetime
from django_smsrest.client.errors import _Call
from django_smsrest.exceptions import UnexpectedResponse
from django_smsrest.results import (
    AccountStatus,
    HistoryEntry,
    HistoryPage,
    SendResult,
)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _maybe_accepted(call: _Call) -> str:
    """The advice that ends a message about an unreadable answer to a send."""
    if call.operation != "send":
        return ""
    check = f"GET sms/{call.order_id}" if call.order_id else "the gateway's order history"
    return f"; the order may have been accepted: check it with {check} before sending again"


def _parse_send_result(data: dict[str, Any]) -> SendResult | list[str]:
    """The documented ``POST sms`` answer as a :class:`SendResult`, or what it lacks
    (``result`` other than OK, no ``order_id``, no ``total_sent``)."""
    result = data.get("result")
    accepted_id = data.get("order_id")
    total_sent = _int_or_none(data.get("total_sent"))
    wrong = []
    if result is not None and str(result).upper() != "OK":
        wrong.append(f"result {str(result)[:20]!r}")
    if (
        not isinstance(accepted_id, str | int)
        or isinstance(accepted_id, bool)
        or accepted_id == ""
    ):
        wrong.append("no order_id")
    if total_sent is None:
        wrong.append("no total_sent")
    if wrong or total_sent is None:
        return wrong
    internal = data.get("internal_order_id")
    return SendResult(
        order_id=str(accepted_id),
        total_sent=total_sent,
        remaining_credits=_int_or_none(data.get("remaining_credits")),
        internal_order_id=str(internal) if internal not in (None, "") else None,
        raw=data,
    )


def _parse_account_status(data: dict[str, Any], money: bool) -> AccountStatus:
    credits: dict[str, int] = {}
    for item in data.get("sms") or []:
        if isinstance(item, dict) and item.get("type") not in (None, ""):
            quantity = _int_or_none(item.get("quantity"))
            credits[str(item["type"])] = quantity if quantity is not None else 0
    balance: Decimal | None = None
    raw_money = data.get("money")
    if money and raw_money is not None and not isinstance(raw_money, bool):
        try:
            balance = Decimal(str(raw_money))
        except InvalidOperation:
            balance = None
    return AccountStatus(credits=credits, money=balance, raw=data)


def _parse_history(data: dict[str, Any], page: int, page_size: int, tz: tzinfo) -> HistoryPage:
    rows = data.get("smshistory") or []
    orders = [
        HistoryEntry(
            order_id=str(row.get("order_id") or ""),
            create_time=parse_gateway_datetime(row.get("create_time"), tz),
            schedule_time=parse_gateway_datetime(row.get("schedule_time"), tz),
            message_type=str(row.get("message_type") or ""),
            sender=str(row.get("sender") or ""),
            num_recipients=_int_or_none(row.get("num_recipients")) or 0,
        )
        for row in rows
        if isinstance(row, dict)
    ]
    total = _int_or_none(data.get("total"))
    return HistoryPage(
        total=total if total is not None else len(orders),
        page_number=_int_or_none(data.get("pageNumber")) or page,
        page_size=_int_or_none(data.get("pageSize")) or page_size,
        orders=orders,
    )


def read_list_page(
    response: requests.Response,
    host: str,
    call: _Call,
    list_keys: Sequence[str],
    total_keys: Sequence[str] = ("total",),
) -> tuple[list[Any], int | None]:
    """The rows and the total of a list answer whose wrapper is undocumented (``GET
    alias``, ``GET blacklist/sms``), read leniently: a bare JSON list, or an object whose
    first of ``list_keys`` (else its only list) holds the rows, with the total under the
    first of ``total_keys`` that is set. Anything else is an :class:`UnexpectedResponse`."""
    try:
        data = response.json()
    except ValueError:
        data = None
    rows: Any = data if isinstance(data, list) else None
    total = None
    if isinstance(data, dict):
        rows = next((data[k] for k in list_keys if isinstance(data.get(k), list)), None)
        if rows is None:
            lists = [v for v in data.values() if isinstance(v, list)]
            rows = lists[0] if len(lists) == 1 else []
        count = next((data[k] for k in total_keys if data.get(k) not in (None, "")), None)
        total = count if isinstance(count, int) and not isinstance(count, bool) else None
    if rows is None:
        raise UnexpectedResponse(
            f"HTTP {response.status_code} from {host} to {call.label} is not a JSON "
            "list or object",
            status_code=response.status_code,
        )
    return rows, total
