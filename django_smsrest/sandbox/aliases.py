"""Sender aliases (TPOA; integrations reference §1 row 18): ``GET alias``.

Documented: ``GET alias?pageNumber&pageSize&hide-not-approved``; each alias has an
``alias-state`` (0 unconfirmed, 1 confirmed by the provider, 2 confirmed by AGCOM, 3/4
blocked, 9 pre-confirmed). Invented: the wrapper ``{"total", "pageNumber", "pageSize",
"alias": [...]}`` and the item fields beyond ``alias`` and ``alias-state`` (``id``,
``company-name``).

The sandbox's account starts with one confirmed alias, :data:`DEFAULT_ALIAS`;
``POST /_sandbox/alias`` ``{"alias": "Shop", "state": 0}`` adds or changes one.
:class:`AliasBook` holds no lock of its own: the state calls it with its lock held.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django_smsrest.sandbox.queries import positive_int
from django_smsrest.sandbox.replies import Reply, error_reply, json_reply
from django_smsrest.sandbox.validation import ApiError

#: The alias the sandbox account has from the start, confirmed by the provider.
DEFAULT_ALIAS = "Sandbox"
STATES = (0, 1, 2, 3, 4, 9)
_APPROVED = (1, 2, 9)
_ALIAS_RE = re.compile(r"[A-Za-z0-9 .\-_&]{1,11}")


class AliasBook:
    """The account's aliases, in the order they were registered."""

    def __init__(self) -> None:
        self.aliases: dict[str, int] = {}
        self.clear()

    def clear(self) -> None:
        self.aliases = {DEFAULT_ALIAS: 1}

    def control(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /_sandbox/alias``; ``ValueError`` when invalid."""
        alias, state = data.get("alias"), data.get("state", 0)
        if not isinstance(alias, str) or not _ALIAS_RE.fullmatch(alias):
            raise ValueError(f"alias must be 1 to 11 letters, digits or spaces, not {alias!r}")
        if state not in STATES or isinstance(state, bool):
            raise ValueError(f"state must be one of {STATES}, not {state!r}")
        self.aliases[alias] = state
        return {"result": "OK", "alias": alias, "alias-state": state}

    def handle(self, query: Mapping[str, str]) -> Reply:
        """``GET alias``: one page."""
        try:
            page = positive_int(query, "pageNumber", 1)
            size = positive_int(query, "pageSize", 10)
        except ApiError as error:
            return error_reply(error)
        hide = query.get("hide-not-approved", "").lower() == "true"
        items = [
            {"id": str(n), "alias": alias, "alias-state": state, "company-name": "Sandbox srl"}
            for n, (alias, state) in enumerate(self.aliases.items(), start=1)
            if not hide or state in _APPROVED
        ]
        body = {
            "total": len(items),
            "pageNumber": page,
            "pageSize": size,
            "alias": items[(page - 1) * size : page * size],
        }
        return json_reply(200, body)


__all__ = ["DEFAULT_ALIAS", "STATES", "AliasBook"]
