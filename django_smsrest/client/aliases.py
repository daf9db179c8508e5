"""The account's sender aliases (TPOA; integrations reference §1 row 18): ``GET alias``.

An alias (an alphanumeric sender) must be registered and confirmed (AGCOM 42/13/CIR in
Italy); an unregistered one goes out as a *numeric* sender. ``alias-state`` is
documented: 0 unconfirmed, 1 confirmed by the provider, 2 confirmed by AGCOM, 3 blocked
by the provider, 4 blocked by AGCOM, 9 pre-confirmed. The list's wrapper is not: the
items are looked for under a few names, or as a bare list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django_smsrest.client.errors import _Call
from django_smsrest.client.parsing import read_list_page

if TYPE_CHECKING:
    from django_smsrest.client.api import SmsRestClient

__all__ = ["ALIAS_STATES", "CONFIRMED_STATES", "Alias", "AliasPage", "get_aliases"]


def _(text: str) -> str:
    # Marks the labels for makemessages; the command translates them where it prints.
    return text


#: ``alias-state`` values and their meaning (documented).
ALIAS_STATES: Mapping[int, str] = {
    0: _("unconfirmed"),
    1: _("confirmed by the provider"),
    2: _("confirmed by AGCOM"),
    3: _("blocked by the provider"),
    4: _("blocked by AGCOM"),
    9: _("pre-confirmed"),
}
#: The states in which the alias is shown to recipients.
CONFIRMED_STATES = frozenset({1, 2, 9})
_LIST_KEYS = ("alias", "aliases", "items", "data")


@dataclass(frozen=True)
class Alias:
    """One registered alias: its gateway id, the text, and its ``alias-state`` (``None``
    when unreadable)."""

    alias: str
    state: int | None
    id: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def confirmed(self) -> bool:
        return self.state in CONFIRMED_STATES

    @property
    def state_label(self) -> str:
        """The state in English (``gettext`` it where shown)."""
        if self.state is None:
            return _("unknown")
        return ALIAS_STATES.get(self.state, _("unknown"))


@dataclass(frozen=True)
class AliasPage:
    aliases: tuple[Alias, ...]
    page_number: int
    page_size: int
    total: int | None = None


def _state(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _alias(item: Any) -> Alias | None:
    if not isinstance(item, Mapping):
        return None
    text = item.get("alias")
    if isinstance(text, Mapping):  # the POST body's shape {"alias": {"alias": ...}}
        item, text = text, text.get("alias")
    if not isinstance(text, str) or not text.strip():
        return None
    state = _state(item.get("alias-state", item.get("aliasState", item.get("state"))))
    return Alias(alias=text.strip(), state=state, id=str(item.get("id", "")), raw=dict(item))


def get_aliases(
    client: SmsRestClient, *, page: int = 1, page_size: int = 100, hide_not_approved: bool = False
) -> AliasPage:
    """``GET alias``: one page of the account's aliases."""
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size must be >= 1")
    params = {
        "pageNumber": str(page),
        "pageSize": str(page_size),
        "hide-not-approved": "true" if hide_not_approved else "false",
    }
    call = _Call("GET", "alias", "alias", "history")
    response = client._call(call, params=params)
    rows, total = read_list_page(response, client.host, call, _LIST_KEYS)
    aliases = tuple(a for a in (_alias(item) for item in rows) if a is not None)
    return AliasPage(aliases=aliases, page_number=page, page_size=page_size, total=total)
