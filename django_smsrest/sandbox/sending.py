"""The three send endpoints, ``POST sms``, ``POST paramsms`` and ``POST smstogroups``.

They share one flow (:func:`post_send`): the body is parsed outside the lock, the
call is counted against the order_id it carried whatever the answer, then rate limit,
authentication and pre-acceptance faults, the duplicate-order_id check, validation,
credits, storage and the post-acceptance faults, exactly alike. Order ids live in one
namespace across the three (a ``paramsms`` order_id reused on ``sms`` is a duplicate).

Success status: ``sms`` answers 201 (documented). For ``paramsms`` and ``smstogroups`` the
smSend pages document 200 and a Skebby-derived client expects 201 (reference §3, §3b), so
the sandbox answers 201 when the configured brand is ``skebby`` and 200 otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django_smsrest.sandbox.delivery import Order
from django_smsrest.sandbox.replies import (
    SEND_LABELS,
    ApiError,
    Reply,
    error_reply,
    json_reply,
    ko,
)
from django_smsrest.sandbox.state import SandboxState
from django_smsrest.sandbox.validation import parse_json_object, validate_order_id, validate_send


def success_status(endpoint: str, brand: str | None) -> int:
    """201 for ``sms``; for the other two, 201 on Skebby and 200 on the smSend family."""
    if endpoint == "sms" or brand == "skebby":
        return 201
    return 200


def post_send(state: SandboxState, label: str, headers: Any, raw: bytes) -> Reply:
    """Answer ``label`` (one of :data:`~.replies.SEND_LABELS`) with body ``raw``.

    Unlike the other endpoints it passes the gate itself: the body is parsed first
    (outside the lock) so that every POST is counted against the order_id it carried,
    whatever the answer, and a malformed body is reported only after the rate limit and
    the authentication, as a real server would.
    """
    body: dict[str, Any] = {}
    order_id: str | None = None
    invalid: Reply | None = None
    try:
        body = parse_json_object(raw)
        order_id = validate_order_id(body)
    except ApiError as error:
        invalid = error_reply(error)
    state.count(label)
    early = state.precheck(label, headers, scoped=True)
    reply = early or invalid or _accept(state, SEND_LABELS[label], body, order_id)
    reply.order_id = reply.order_id or order_id
    if reply.order_id:
        with state._lock:
            state.book.posts[reply.order_id].append(reply.outcome)
    return reply


def _accept(
    state: SandboxState, endpoint: str, body: dict[str, Any], order_id: str | None
) -> Reply:
    with state._lock:
        duplicate = state.book.duplicate(order_id)
    if duplicate is not None:
        return duplicate
    now = state.now()
    try:
        request = validate_send(
            body, state.config, datetime.fromtimestamp(now, UTC), order_id, endpoint
        )
    except ApiError as error:
        return error_reply(error)
    status = success_status(endpoint, state.config.brand)
    with state._lock:
        duplicate = state.book.duplicate(order_id)  # a concurrent POST may have won
        if duplicate is not None:
            return duplicate
        stored = state.book.charge_and_store(request, order_id, now, status)
        if isinstance(stored, Reply):
            return stored
        order = stored
        order.fault = state.faults.after_fault()
    return _fault_reply(state, order)


def _fault_reply(state: SandboxState, order: Order) -> Reply:
    """The answer to an accepted order: its success, or the post-acceptance fault."""
    order_id = order.order_id
    if order.fault == "error_after":
        return ko(
            500,
            "Internal server error (sandbox fault: the order WAS accepted).",
            "SANDBOX_FAULT",
            order_id=order_id,
        )
    if order.fault == "timeout_after":
        return Reply(
            0, action="hang", hang_seconds=state.config.timeout_seconds, order_id=order_id
        )
    if order.fault == "drop_after":
        return Reply(0, action="drop", order_id=order_id)
    return json_reply(
        order.status, order.response, order_id=order_id, note=order.request.schedule_note
    )


__all__ = ["SEND_LABELS", "post_send", "success_status"]
