"""The wire formats: what an endpoint answers (:class:`Reply`, :class:`ApiError` for a
refusal) and which endpoint a path names (:func:`resolve_route`). The bottom layer of the
sandbox, with its options (:mod:`.config`): it imports nothing of the sandbox.

The HTTP layer (:mod:`django_smsrest.sandbox.server`) turns a :class:`Reply` into bytes;
the state never touches a socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class ApiError(Exception):
    """A request the gateway refuses: HTTP ``status`` with a KO JSON body.

    ``code`` is a short machine-readable tag (invented by the sandbox: the real gateway's
    error body is undocumented), ``message`` the explanation for a person.
    """

    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def body(self) -> dict[str, str]:
        return {"result": "KO", "error_message": self.message, "code": self.code}


@dataclass
class Reply:
    """What the HTTP layer must do: answer, drop the connection, or hang then drop.

    ``outcome`` is what ``/_sandbox/orders`` records for the POST (the status or
    ``"drop"``/``"timeout"``); ``order_id`` is the id the POST carried or was given.
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    action: str = "respond"
    hang_seconds: float = 0.0
    order_id: str | None = None
    #: A remark for the request log (``--verbose``), e.g. a past schedule sent at once.
    note: str | None = None

    @property
    def outcome(self) -> int | str:
        return {"drop": "drop", "hang": "timeout"}.get(self.action, self.status)


def json_reply(status: int, data: Any, **extra: Any) -> Reply:
    return Reply(status, json.dumps(data).encode(), **extra)


def text_reply(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), "text/plain; charset=utf-8")


def error_reply(error: ApiError) -> Reply:
    return json_reply(error.status, error.body())


def ko(status: int, message: str, code: str, **extra: Any) -> Reply:
    return json_reply(status, {"result": "KO", "error_message": message, "code": code}, **extra)


#: Endpoint label -> endpoint name, for the send endpoints (one flow for the three, in
#: :mod:`.sending`; one order-id namespace).
SEND_LABELS: dict[str, str] = {
    "POST sms": "sms",
    "POST paramsms": "paramsms",
    "POST smstogroups": "smstogroups",
}

#: Path (below ``/API/v1.0/REST/``) -> the methods it answers. A new endpoint adds its
#: path here and its handler to :data:`django_smsrest.sandbox.api.ENDPOINTS`.
_ROUTES = {
    "login": ("GET",),
    "token": ("GET",),
    "checksession": ("GET",),
    "sms": ("POST",),
    "paramsms": ("POST",),
    "smstogroups": ("POST",),
    "status": ("GET",),
    "smshistory": ("GET",),
    "2fa/request": ("POST",),  # the PIN service (sandbox/twofactor.py)
    "2fa/verify": ("POST",),
    # sandbox/blacklist.py
    "blacklist/sms": ("GET", "POST"),
    "blacklist/smsbatch": ("POST",),
    # sandbox/aliases.py
    "alias": ("GET",),
}


# Inbound paths and how many path segments may follow them.
_INBOUND_ROUTES = {"newsrsmsmessage": 1, "srsmshistory": 2}


def resolve_route(method: str, route: str) -> tuple[str | None, str | None, bool]:
    """(endpoint label, path argument, method allowed) for a path below ``/API/v1.0/REST/``.

    The label is the form used in request counts, e.g. ``"GET sms/{order_id}"``; ``None``
    for an unknown path.
    """
    route = route.strip("/")
    if route.startswith("sms/") and route.count("/") == 1:
        return f"{method} sms/{{order_id}}", route[4:], method in ("GET", "DELETE")
    head, _, rest = route.partition("/")
    if head in _INBOUND_ROUTES and rest.count("/") < _INBOUND_ROUTES[head]:
        # newsrsmsmessage[/{id_sim}], srsmshistory[/{id_sim}[/{id_message}]]
        return f"{method} {head}", rest or None, method == "GET"
    methods = _ROUTES.get(route)
    if methods is None:
        return None, None, False
    return f"{method} {route}", None, method in methods


__all__ = [
    "SEND_LABELS",
    "ApiError",
    "Reply",
    "error_reply",
    "json_reply",
    "ko",
    "resolve_route",
    "text_reply",
]
