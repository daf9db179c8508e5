"""Read-only endpoints: ``GET status`` and ``GET smshistory``, and their query parsing.

Pure functions over data the state copied under its lock; they never take the lock.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django_smsrest.conf import BRANDS
from django_smsrest.sandbox.config import INTERNAL_TYPES, SandboxConfig, internal_type
from django_smsrest.sandbox.delivery import Order, format_date
from django_smsrest.sandbox.replies import ApiError, Reply, error_reply, json_reply
from django_smsrest.sandbox.validation import parse_timezone

#: The brand whose codes ``status?typeAliases=true`` lists when none is configured.
DEFAULT_BRAND = "smsend"


def status_reply(
    query: Mapping[str, str], config: SandboxConfig, credits: Mapping[str, int]
) -> Reply:
    """``GET status``: credits per type and, with ``getMoney=true``, the money balance.

    Without ``typeAliases=true`` the types are the internal ids N/L/LL; with it, only the
    configured brand's codes (smSend/Mobyt/Aruba N/L/LL, Skebby GP/TI/SI; no brand
    configured means smSend, the app's default), as one real account would list them.
    """
    if query.get("typeAliases", "").lower() == "true":
        codes = list(BRANDS[config.brand or DEFAULT_BRAND].message_types)
    else:
        codes = list(INTERNAL_TYPES)
    sms = [{"type": code, "quantity": credits.get(internal_type(code), 0)} for code in codes]
    money = config.money if query.get("getMoney", "").lower() == "true" else None
    email = {"bandwidth": 0.0, "purchased": None, "billing": "EMAILPERHOUR", "expiry": None}
    return json_reply(200, {"money": money, "sms": sms, "email": email})


def history_reply(
    query: Mapping[str, str], config: SandboxConfig, orders: Iterable[Order], now: float
) -> Reply:
    """``GET smshistory``: accepted orders created in ``from``..``to``, newest first."""
    try:
        tz = parse_timezone(query.get("timezone"), "timezone", config.timezone)
        start = history_date(query, "from", tz, required=True) or 0.0
        end = history_date(query, "to", tz, required=False) or now
        page = positive_int(query, "pageNumber", 1)
        size = positive_int(query, "pageSize", 10)
    except ApiError as error:
        return error_reply(error)
    found = [o for o in orders if not o.cancelled and start <= o.created_at <= end]
    found.reverse()  # newest first
    items = [
        {
            "order_id": o.order_id,
            "create_time": format_date(o.created_at, tz),
            "schedule_time": format_date(o.start_at, tz),
            "message_type": o.request.message_type,
            "sender": o.request.sender,
            "num_recipients": len(o.request.recipients),
        }
        for o in found[(page - 1) * size : page * size]
    ]
    body: dict[str, Any] = {
        "total": len(found),
        "pageNumber": page,
        "pageSize": size,
        "smshistory": items,
    }
    return json_reply(200, body)


def history_date(
    query: Mapping[str, str], name: str, tz: zoneinfo.ZoneInfo, *, required: bool
) -> float | None:
    """A ``yyyyMMddHHmmss`` query parameter as epoch seconds (``None`` when absent)."""
    value = query.get(name, "")
    if not value:
        if required:
            raise ApiError(
                f"{name} is required: the start of the period, as yyyyMMddHHmmss "
                "(e.g. 20250131000000).",
                "MISSING_FIELD",
            )
        return None
    try:
        if len(value) != 14 or not value.isdigit():
            raise ValueError(value)
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=tz).timestamp()
    except ValueError:
        raise ApiError(
            f"{name} must be a date written yyyyMMddHHmmss (e.g. 20250131000000), not {value!r}.",
            "INVALID_DATE",
        ) from None


def positive_int(query: Mapping[str, str], name: str, default: int) -> int:
    """A positive whole-number query parameter (``default`` when absent); 400 otherwise."""
    value = query.get(name, "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ApiError(
            f"{name} must be a positive whole number, not {value!r}.", "INVALID_PARAMETER"
        )
    return int(value)


__all__ = ["history_date", "history_reply", "positive_int", "status_reply"]
