"""The REST API's dispatch: which endpoint answers a call, and the gate before it.

:func:`handle_api` resolves the path (:func:`~.replies.resolve_route`), counts the call,
passes it through the state's gate (:meth:`~.state.SandboxState.precheck`: rate limit,
authentication, faults) and hands it to the endpoint's handler in :data:`ENDPOINTS`. The
send endpoints (:mod:`.sending`) pass the gate themselves (they count a POST against the
order id it carried, whatever the answer).

Adding an endpoint: its path and methods in :data:`~.replies._ROUTES` (what the wire
accepts), a module of its own beside :mod:`.sending` with a handler
``(state, call) -> Reply``, and one line in :data:`ENDPOINTS` here. The handler reads and
changes the :class:`~.state.SandboxState` under its ``_lock``, raises or answers an
:class:`~.replies.ApiError` for a refusal, and never touches a socket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django_smsrest.sandbox import sending
from django_smsrest.sandbox.blacklist import LABELS as BLACKLIST_LABELS
from django_smsrest.sandbox.queries import history_reply, status_reply
from django_smsrest.sandbox.replies import (
    SEND_LABELS,
    ApiError,
    Reply,
    error_reply,
    json_reply,
    ko,
    resolve_route,
    text_reply,
)
from django_smsrest.sandbox.state import SandboxState


@dataclass(frozen=True)
class Call:
    """One call to ``/API/v1.0/REST/<route>``, as a handler sees it."""

    label: str
    argument: str | None  # the path's {argument}, e.g. the order id of sms/{order_id}
    query: Mapping[str, str]
    headers: Any  # case-insensitive ``get``; ``keys()`` keep the client's spelling
    body: bytes


Handler = Callable[[SandboxState, Call], Reply]


def _login(state: SandboxState, call: Call, *, token: bool) -> Reply:
    credentials = state.accounts.credentials(call.query, call.headers)
    if credentials is None:
        return ko(
            400,
            "username and password are required, in the query string or as HTTP Basic "
            "authentication.",
            "MISSING_FIELD",
        )
    if not state.accounts.check_password(*credentials):
        return text_reply(404, "Wrong username or password.")
    with state._lock:
        return state.accounts.issue(token)


def _checksession(state: SandboxState, call: Call) -> Reply:
    with state._lock:
        return state.accounts.checksession(call.headers)


def _get_order(state: SandboxState, call: Call) -> Reply:
    order_id = call.argument or ""
    with state._lock:
        order = state.book.live(order_id)
    if order is None:
        return ko(404, f"No order with order_id {order_id!r}.", "NOT_FOUND")
    states = order.states(state.now(), state.tz)
    return json_reply(200, {"result": "OK", "recipient_number": len(states), "recipients": states})


def _cancel_order(state: SandboxState, call: Call) -> Reply:
    with state._lock:
        return state.book.cancel(call.argument or "", state.now())


def _status(state: SandboxState, call: Call) -> Reply:
    with state._lock:
        credits = dict(state.book.credits)
    return status_reply(call.query, state.config, credits)


def _history(state: SandboxState, call: Call) -> Reply:
    with state._lock:
        orders = list(state.book.orders.values())
    return history_reply(call.query, state.config, orders, state.now())


def _new_messages(state: SandboxState, call: Call) -> Reply:
    with state._lock:
        return state.inbox.new_messages(call.argument, call.query, state.tz)


def _received_history(state: SandboxState, call: Call) -> Reply:
    with state._lock:
        return state.inbox.history(call.argument, call.query, state.now())


def _send(state: SandboxState, call: Call) -> Reply:
    return sending.post_send(state, call.label, call.headers, call.body)


#: Endpoint label (``"METHOD path"`` as :func:`~.replies.resolve_route` names it) ->
#: its handler. One line per endpoint.
def _blacklist(state: SandboxState, call: Call) -> Reply:
    with state._lock:
        return state.blacklist.handle(call.label, call.query, call.body, state.now(), state.tz)


def _aliases(state: SandboxState, call: Call) -> Reply:
    with state._lock:
        return state.alias_book.handle(call.query)


ENDPOINTS: dict[str, Handler] = {
    "GET login": lambda state, call: _login(state, call, token=False),
    "GET token": lambda state, call: _login(state, call, token=True),
    "GET checksession": _checksession,
    **{label: _send for label in SEND_LABELS},
    "GET sms/{order_id}": _get_order,
    "DELETE sms/{order_id}": _cancel_order,
    "GET status": _status,
    "GET smshistory": _history,
    "GET newsrsmsmessage": _new_messages,
    "GET srsmshistory": _received_history,
    # The PIN service (sandbox/twofactor.py).
    "POST 2fa/request": lambda state, call: state.pins.handle(call.label, call.body, state.now()),
    "POST 2fa/verify": lambda state, call: state.pins.handle(call.label, call.body, state.now()),
    # The blacklist (sandbox/blacklist.py) and the sender aliases (sandbox/aliases.py).
    **{label: _blacklist for label in BLACKLIST_LABELS},
    "GET alias": _aliases,
}


def handle_api(
    state: SandboxState,
    method: str,
    route: str,
    query: Mapping[str, str],
    headers: Any,
    body: bytes,
) -> Reply:
    """Answer one call to ``/API/v1.0/REST/<route>`` with a :class:`~.replies.Reply`."""
    label, argument, allowed = resolve_route(method, route)
    if label is None:
        return ko(404, f"There is no endpoint {route!r} in this API.", "NOT_FOUND")
    if not allowed:
        return ko(405, f"{method} is not allowed on {route!r}.", "METHOD_NOT_ALLOWED")
    handler = ENDPOINTS.get(label)
    if handler is None:  # a path the wire knows and no module answers yet
        return ko(404, f"There is no endpoint {route!r} in this API.", "NOT_FOUND")
    call = Call(label, argument, query, headers, body)
    if label in SEND_LABELS:
        return handler(state, call)
    state.count(label)
    early = state.precheck(label, headers, scoped=state.config.fault_scope == "all")
    if early is not None:
        return early
    try:
        return handler(state, call)
    except ApiError as error:
        return error_reply(error)


__all__ = ["ENDPOINTS", "Call", "Handler", "handle_api"]
