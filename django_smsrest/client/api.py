"""The gateway's endpoints: :class:`SmsRestClient` with ``send_sms``, ``get_order``,
``cancel``, ``get_status`` and ``get_history``, and the gateway's date format.

Plain Python: nothing here reads Django settings, touches the ORM or does anything at import
time, so the client works in a script, a worker or the sandbox's own tests. Build it from the
app's settings with :meth:`SmsRestClient.from_settings`.

**One POST per call.** :meth:`SmsRestClient.send_sms` makes exactly one ``POST sms``; the
only repetition is the single one after a refused key (see
:mod:`django_smsrest.client.session`). Failures are classified by type
(:mod:`django_smsrest.client.transport`); secrets never reach a message, a log line or a
``repr``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django_smsrest.client import aliases, blacklist
from django_smsrest.client.aliases import AliasPage
from django_smsrest.client.blacklist import BlacklistPage
from django_smsrest.client.dates import (
    UNAMBIGUOUS_ZONE,
    format_gateway_datetime,
    gateway_time,
    history_params,
    is_ambiguous,
    parse_gateway_datetime,
)
from django_smsrest.client.errors import Operation, _Call
from django_smsrest.client.parsing import _parse_account_status, _parse_history
from django_smsrest.client.pins import PinEndpoints
from django_smsrest.client.sending import SEND_EXTRA_FIELDS
from django_smsrest.client.session import AuthMode
from django_smsrest.conf import get_zone
from django_smsrest.exceptions import UnexpectedResponse
from django_smsrest.results import (
    AccountStatus,
    DeliveryState,
    HistoryPage,
    OrderReport,
    RecipientState,
)
from django_smsrest.secret import Secret

if TYPE_CHECKING:
    from django_smsrest.conf import SmsRestSettings

__all__ = [
    "SEND_EXTRA_FIELDS",
    "UNAMBIGUOUS_ZONE",
    "SmsRestClient",
    "format_gateway_datetime",
    "gateway_time",
    "is_ambiguous",
    "parse_gateway_datetime",
]

logger = logging.getLogger("django_smsrest.client")


class SmsRestClient(PinEndpoints):
    """A thread-safe client of one gateway account.

    Share one instance per process (per account): the login keys are cached on it and used
    by all its threads; each thread gets its own keep-alive HTTP session.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str | Secret,
        *,
        auth: AuthMode = "session",
        timeout: float | tuple[float, float] = (3.05, 15.0),
        verify: bool | str = True,
        gateway_timezone: str = "Europe/Rome",
        user_agent: str | None = None,
        login_with_basic_auth: bool = False,
        proxies: Mapping[str, str] | None = None,
        session_idle_relogin: float | None = 270.0,
        pool_maxsize: int = 4,
    ) -> None:
        """
        :param base_url: ``https://<host>/API/v1.0/REST/``; plain ``http://`` only to a
            loopback host (the sandbox). Raises ``SmsRestConfigurationError`` otherwise.
        :param auth: ``"session"`` (``GET login``, key idles out after 5 minutes) or
            ``"token"`` (``GET token``, long-lived access token).
        :param timeout: ``(connect, read)`` seconds, passed on every request. The read
            timeout is between bytes, not a total.
        :param verify: TLS verification, ``True`` or a CA bundle path; passed per request.
        :param gateway_timezone: IANA zone used for dates sent to and read from the gateway.
        :param session_idle_relogin: with ``auth="session"``, log in again before a call
            when the key has been idle this long (seconds); ``None`` relies on 401 only.
        """
        password = Secret(password)  # first: no plain str in this frame from here on
        super().__init__(
            base_url,
            username,
            password,
            auth=auth,
            login_with_basic_auth=login_with_basic_auth,
            session_idle_relogin=session_idle_relogin,
            timeout=timeout,
            verify=verify,
            user_agent=user_agent,
            proxies=proxies,
            pool_maxsize=pool_maxsize,
        )
        self.gateway_timezone = gateway_timezone
        self.tz = get_zone(gateway_timezone)

    @classmethod
    def from_settings(cls, conf: SmsRestSettings, **overrides: Any) -> SmsRestClient:
        """A client configured from :class:`~django_smsrest.conf.SmsRestSettings`
        (``conf.get_settings()``); ``overrides`` replace constructor arguments."""
        kwargs: dict[str, Any] = {
            "auth": conf.auth,
            "timeout": conf.timeout,
            "verify": conf.verify_tls,
            "gateway_timezone": conf.gateway_timezone,
        }
        kwargs.update(overrides)
        return cls(conf.base_url, conf.username, conf.password, **kwargs)

    def __repr__(self) -> str:
        return f"<SmsRestClient {self.host} user={self.username!r} auth={self.auth}>"

    def __enter__(self) -> SmsRestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- dates ----------------------------------------------------------------------------

    def format_datetime(self, value: datetime) -> str:
        """``value`` (aware) as the gateway's ``yyyyMMddHHmmss`` in ``gateway_timezone``."""
        return format_gateway_datetime(value, self.tz)

    def parse_datetime(self, value: Any) -> datetime | None:
        """A gateway date (``yyyyMMddHHmmss`` in ``gateway_timezone``) as an aware
        datetime; ``None`` for empty or unreadable values."""
        return parse_gateway_datetime(value, self.tz)

    # -- API ------------------------------------------------------------------------------

    def _order_call(self, method: str, order_id: str, operation: Operation) -> _Call:
        if not isinstance(order_id, str) or not order_id:
            raise ValueError("order_id must be a non-empty string")
        return _Call(
            method,
            "sms/" + quote(order_id, safe=""),
            "sms/{order_id}",
            operation,
            order_id=order_id,
        )

    def get_order(self, order_id: str) -> OrderReport:
        """``GET sms/{order_id}``: per-recipient delivery state.

        Raises :class:`~django_smsrest.exceptions.OrderNotFound` on 404 (the gateway never
        accepted that order id, or forgot it) — the answer reconciliation relies on.
        """
        call = self._order_call("GET", order_id, "order")
        response = self._call(call)
        data = self._json_object(response, call)
        items = data.get("recipients")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise UnexpectedResponse(
                f"HTTP {response.status_code} from {self.host} to {call.label}: "
                "'recipients' is not a list",
                status_code=response.status_code,
            )
        recipients: list[RecipientState] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            raw_status = str(item.get("status") or "")
            recipients.append(
                RecipientState(
                    destination=str(item.get("destination") or item.get("recipient") or ""),
                    state=DeliveryState.parse(raw_status),
                    delivery_date=self.parse_datetime(item.get("delivery_date")),
                    raw_status=raw_status,
                )
            )
        return OrderReport(order_id=order_id, recipients=recipients, raw=data)

    def cancel(self, order_id: str) -> None:
        """``DELETE sms/{order_id}``: cancel a scheduled order.

        Raises :class:`~django_smsrest.exceptions.OrderNotFound` when the order does not
        exist or is no longer ``SCHEDULED`` (the gateway answers 404 for both).
        """
        self._call(self._order_call("DELETE", order_id, "cancel"))

    def get_status(self, *, money: bool = True) -> AccountStatus:
        """``GET status?getMoney=...&typeAliases=true``: credits per message type (keys are
        the brand's codes, e.g. ``GP`` for Skebby) and the money balance when asked."""
        call = _Call("GET", "status", "status", "status")
        response = self._call(
            call, params={"getMoney": "true" if money else "false", "typeAliases": "true"}
        )
        data = self._json_object(response, call)
        return _parse_account_status(data, money)

    def get_history(
        self,
        date_from: datetime,
        date_to: datetime | None = None,
        *,
        page: int = 1,
        page_size: int = 10,
    ) -> HistoryPage:
        """``GET smshistory``: orders created between ``date_from`` and ``date_to``
        (aware datetimes; ``date_to`` defaults to now on the gateway), one page."""
        params, _zone = history_params(
            date_from, date_to, page, page_size, self.tz, self.gateway_timezone
        )
        call = _Call("GET", "smshistory", "smshistory", "history")
        response = self._call(call, params=params)
        data = self._json_object(response, call)
        return _parse_history(data, page, page_size, self.tz)

    # -- the SMS blacklist (client/blacklist.py) -----------------------------------------

    def get_blacklist(self, **filters: Any) -> BlacklistPage:
        """``GET blacklist/sms``, one page: see :func:`.blacklist.get_blacklist`."""
        return blacklist.get_blacklist(self, **filters)

    def add_to_blacklist(self, number: str) -> None:
        """``POST blacklist/sms?phoneNumber=``: see :func:`.blacklist.add_to_blacklist`."""
        blacklist.add_to_blacklist(self, number)

    def add_many_to_blacklist(self, numbers: Sequence[str]) -> int | None:
        """``POST blacklist/smsbatch``: see :func:`.blacklist.add_many_to_blacklist`."""
        return blacklist.add_many_to_blacklist(self, numbers)

    def get_aliases(self, **options: Any) -> AliasPage:
        """``GET alias``, one page: see :func:`.aliases.get_aliases`."""
        return aliases.get_aliases(self, **options)
