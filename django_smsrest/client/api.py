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

import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import requests

from django_smsrest.client.errors import Operation, _Call
from django_smsrest.client.redaction import redact
from django_smsrest.client.session import AuthMode, AuthSession
from django_smsrest.conf import get_zone
from django_smsrest.exceptions import UnexpectedResponse
from django_smsrest.results import (
    AccountStatus,
    DeliveryState,
    HistoryEntry,
    HistoryPage,
    OrderReport,
    RecipientState,
    SendResult,
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

#: Optional ``POST sms`` fields passed through unchanged by :meth:`SmsRestClient.send_sms`.
SEND_EXTRA_FIELDS = frozenset(
    {
        "campaign_name",
        "max_fragments",
        "truncate",
        "validity_period_min",
        "short_link_url",
        "richsms_url",
        "id_landing",
    }
)

# Documented rule for custom order ids (paramsms/smstogroups pages; assumed for sms too).
_ORDER_ID_RE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")  # always used with fullmatch
_GATEWAY_DATE_FORMAT = "%Y%m%d%H%M%S"
_GATEWAY_DATE_FORMATS = (
    "%Y%m%d%H%M%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y%m%d%H%M",
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


#: The zone used instead of the gateway's when a local time would be ambiguous.
UNAMBIGUOUS_ZONE = "UTC"


def _local(value: datetime, tz: tzinfo) -> datetime:
    """``value`` as a wall-clock time in ``tz``, through UTC.

    Through UTC because ``value.astimezone(tz)`` returns ``value`` unchanged when it is
    already in ``tz``, even when it names a time that does not exist there (02:30 on a
    spring-forward day); via UTC it becomes the time that exists (03:30 summer time) for
    the same instant.
    """
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            "the gateway needs an aware datetime (a naive one is ambiguous); "
            "use django.utils.timezone.now() or datetime.now(tz)"
        )
    return value.astimezone(UTC).astimezone(tz)


def is_ambiguous(local: datetime) -> bool:
    """Whether the wall-clock time of ``local`` happens twice in its zone (the autumn
    fold), so that ``yyyyMMddHHmmss`` plus the zone name does not say which instant."""
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def gateway_time(value: datetime, tz: tzinfo, zone: str) -> tuple[str, str]:
    """``(text, zone name)`` that name ``value`` (aware) without ambiguity for the gateway.

    The gateway reads a wall-clock ``yyyyMMddHHmmss`` in the IANA zone sent beside it
    (``scheduled_delivery_timezone``, ``timezone``) and documents no offset syntax. So the
    time goes in ``zone`` (``tz``'s name) as usual, except when that wall-clock time
    happens twice there (02:00-02:59 on the last Sunday of October in Europe/Rome): then
    it goes in UTC, which is a documented IANA zone and has no fold, so a gateway that
    resolves a fold to the first occurrence cannot send an hour early.
    """
    local = _local(value, tz)
    if is_ambiguous(local):
        return value.astimezone(UTC).strftime(_GATEWAY_DATE_FORMAT), UNAMBIGUOUS_ZONE
    return local.strftime(_GATEWAY_DATE_FORMAT), zone


def format_gateway_datetime(value: datetime, tz: tzinfo) -> str:
    """``value`` (aware) as the gateway's ``yyyyMMddHHmmss`` in ``tz`` (a time at a fold
    stays ambiguous here: use :func:`gateway_time` for what is sent)."""
    return _local(value, tz).strftime(_GATEWAY_DATE_FORMAT)


def parse_gateway_datetime(value: Any, tz: tzinfo) -> datetime | None:
    """A gateway date (``yyyyMMddHHmmss`` in ``tz``) as an aware datetime; ``None`` for
    empty or unreadable values."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if value.endswith(".0"):
        value = value[:-2]
    for fmt in _GATEWAY_DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    logger.debug("unreadable gateway date %r", value[:40])
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


class SmsRestClient(AuthSession):
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

    def _json_object(self, response: requests.Response, call: _Call) -> dict[str, Any]:
        """The 2xx body as a JSON object, or :class:`UnexpectedResponse` (maybe sent) that
        says what came instead: an HTML page (a maintenance page, a proxy, a captive
        portal), an empty body, text, or JSON of another shape."""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
        text = response.text or ""
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower() or text.lstrip()[:1] == "<":
            what = "an HTML page (a maintenance page or a proxy?)"
        elif not text.strip():
            what = "an empty body"
        elif data is None:
            what = "text that is not JSON"
        else:
            what = f"a JSON {type(data).__name__}"
        raise UnexpectedResponse(
            f"HTTP {response.status_code} from {self.host} to {call.label} with {what} "
            f"instead of the documented JSON object{_maybe_accepted(call)}",
            status_code=response.status_code,
            detail=redact(text or "(empty)", self._secrets(), limit=120),
        )

    # -- dates ----------------------------------------------------------------------------

    def format_datetime(self, value: datetime) -> str:
        """``value`` (aware) as the gateway's ``yyyyMMddHHmmss`` in ``gateway_timezone``."""
        return format_gateway_datetime(value, self.tz)

    def parse_datetime(self, value: Any) -> datetime | None:
        """A gateway date (``yyyyMMddHHmmss`` in ``gateway_timezone``) as an aware
        datetime; ``None`` for empty or unreadable values."""
        return parse_gateway_datetime(value, self.tz)

    # -- API ------------------------------------------------------------------------------

    def send_sms(
        self,
        message: str,
        recipients: str | Iterable[str],
        *,
        message_type: str,
        sender: str | None = None,
        scheduled_delivery_time: datetime | None = None,
        order_id: str | None = None,
        encoding: Literal["gsm", "ucs2"] | None = None,
        return_credits: bool = False,
        return_remaining: bool = True,
        allow_invalid_recipients: bool = False,
        **extra: Any,
    ) -> SendResult:
        """``POST sms``: one order to ``recipients`` (E.164 strings, already normalised).

        Exactly one POST, except the single repeat after a refused key (see the module
        docstring). Any 2xx is success. Pass ``order_id`` (≤ 32 chars of
        ``[A-Za-z0-9_.-]``) so an unknown outcome can be reconciled with :meth:`get_order`.
        ``scheduled_delivery_time`` must be aware; it is sent as ``yyyyMMddHHmmss`` in
        ``gateway_timezone`` together with ``scheduled_delivery_timezone``, or in UTC when
        that local time is ambiguous (the autumn fold, see :func:`gateway_time`). ``extra`` takes
        the optional fields in :data:`SEND_EXTRA_FIELDS`; ``None`` values are left out.

        Raises a :class:`~django_smsrest.exceptions.NotSentError` subclass when the
        gateway surely did not accept the order, a
        :class:`~django_smsrest.exceptions.MaybeSentError` subclass when it may have, and
        ``ValueError``/``TypeError`` for bad arguments (before any request).
        """
        unknown = sorted(set(extra) - SEND_EXTRA_FIELDS)
        if unknown:
            raise TypeError(
                f"send_sms() got unexpected keyword argument(s): {', '.join(unknown)}; "
                f"optional gateway fields are {', '.join(sorted(SEND_EXTRA_FIELDS))}"
            )
        numbers = [recipients] if isinstance(recipients, str) else list(recipients)
        if not numbers or not all(isinstance(n, str) and n.strip() for n in numbers):
            raise ValueError("recipients must be a non-empty list of phone numbers")
        if not isinstance(message, str) or not message:
            raise ValueError("message must be a non-empty string")
        if not message_type:
            raise ValueError("message_type is required")
        if order_id is not None and not (
            isinstance(order_id, str) and _ORDER_ID_RE.fullmatch(order_id)
        ):
            raise ValueError(
                f"order_id {order_id!r} must be 1-32 characters of letters, digits, '_', '.', '-'"
            )
        if encoding is not None and encoding not in ("gsm", "ucs2"):
            raise ValueError(f"encoding must be 'gsm' or 'ucs2', not {encoding!r}")

        body: dict[str, Any] = {
            "message_type": message_type,
            "message": message,
            "recipient": numbers,
            "returnCredits": bool(return_credits),
            "returnRemaining": bool(return_remaining),
            "allowInvalidRecipients": bool(allow_invalid_recipients),
        }
        if sender is not None:
            body["sender"] = sender
        if scheduled_delivery_time is not None:
            text, zone = gateway_time(scheduled_delivery_time, self.tz, self.gateway_timezone)
            body["scheduled_delivery_time"] = text
            body["scheduled_delivery_timezone"] = zone
        if order_id is not None:
            body["order_id"] = order_id
        if encoding is not None:
            body["encoding"] = encoding
        body.update({k: v for k, v in extra.items() if v is not None})

        call = _Call("POST", "sms", "sms", "send", order_id=order_id)
        response = self._call(call, json_body=body)
        data = self._json_object(response, call)
        result = _parse_send_result(data)
        if isinstance(result, list):
            raise UnexpectedResponse(
                f"HTTP {response.status_code} from {self.host} to {call.label} is not the "
                f"documented answer ({', '.join(result)}){_maybe_accepted(call)}",
                status_code=response.status_code,
                detail=redact(json.dumps(data)[:200], self._secrets(), limit=200),
            )
        return result

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
        if page < 1 or page_size < 1:
            raise ValueError("page and page_size must be >= 1")
        dates = [date_from] if date_to is None else [date_from, date_to]
        times = [gateway_time(d, self.tz, self.gateway_timezone) for d in dates]
        zone = self.gateway_timezone
        if any(z != zone for _, z in times):
            # One zone for both filters: UTC for both when either is at a fold.
            zone = UNAMBIGUOUS_ZONE
            times = [gateway_time(d, UTC, zone) for d in dates]
        params = {
            "from": times[0][0],
            "timezone": zone,
            "pageNumber": str(page),
            "pageSize": str(page_size),
        }
        if date_to is not None:
            params["to"] = times[1][0]
        call = _Call("GET", "smshistory", "smshistory", "history")
        response = self._call(call, params=params)
        data = self._json_object(response, call)
        return _parse_history(data, page, page_size, self.tz)
