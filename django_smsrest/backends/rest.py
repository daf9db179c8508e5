"""The real gateway: one :class:`~django_smsrest.client.SmsRestClient` per process.

The client is thread-safe (one keep-alive ``requests.Session`` per thread, login keys shared
and renewed on 401) and handles ``fork`` itself, so this module only has to keep one client
per configuration. The cache key is derived from the settings, so ``override_settings`` in
tests (or a settings change in a long-lived shell) gets a fresh client instead of one logged
in to another account. The password takes part in the key only as a SHA-256 digest, so the
cache never holds it in a readable form beyond the client itself.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import TYPE_CHECKING, Any

from django_smsrest.backends.base import BaseBackend, OutgoingOrder
from django_smsrest.backends.observe import observed
from django_smsrest.conf import SmsRestSettings, require_credentials
from django_smsrest.results import AccountStatus, OrderReport, PinCheck, SendResult

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from django_smsrest.client import SmsRestClient
    from django_smsrest.client.aliases import AliasPage
    from django_smsrest.client.blacklist import BlacklistPage
    from django_smsrest.client.inbound import ReceivedItem, ReceivedPage

_lock = threading.Lock()
_clients: dict[tuple[object, ...], SmsRestClient] = {}
_clients_pid: int | None = None


def _key(conf: SmsRestSettings) -> tuple[object, ...]:
    return (
        conf.base_url,
        conf.username,
        hashlib.sha256(conf.password.reveal().encode()).hexdigest(),
        conf.auth,
        conf.timeout,
        conf.verify_tls,
        conf.gateway_timezone,
    )


def get_client(conf: SmsRestSettings) -> SmsRestClient:
    """The process-wide client for ``conf`` (created on first use)."""
    global _clients_pid
    require_credentials(conf)
    key = _key(conf)
    with _lock:
        if _clients_pid != os.getpid():
            # A forked child starts with a fresh cache: the parent's clients carry its
            # sockets. Drop them without closing (closing would touch the parent's sockets).
            _clients.clear()
            _clients_pid = os.getpid()
        client = _clients.get(key)
        if client is None:
            from django_smsrest.client import SmsRestClient

            client = _clients[key] = SmsRestClient.from_settings(conf)
        return client


def reset_clients() -> None:
    """Forget every cached client (closing the calling thread's HTTP sessions)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


class RestBackend(BaseBackend):
    """Sends through the gateway's REST API with the ``SMSREST`` credentials."""

    name = "rest"
    supports_status = True
    supports_cancel = True
    supports_params = True
    supports_groups = True
    thread_safe = True  # one client, thread-safe by contract

    def __init__(self, conf: SmsRestSettings) -> None:
        super().__init__(conf)
        self.client = get_client(conf)

    def max_send_seconds(self) -> float:
        """The client's bound: every try may wait for a login, log in and send."""
        return self.client.max_call_seconds()

    def send(self, order: OutgoingOrder) -> SendResult:
        # Timed and counted by outcome for the metrics (backends/observe.py).
        with observed("send"):
            return self._send(order)

    def _send(self, order: OutgoingOrder) -> SendResult:
        fields: dict[str, Any] = {
            # None lets the gateway use the account's default sender; "" would be sent.
            "sender": order.sender or None,
            "scheduled_delivery_time": order.scheduled_delivery_time,
            "order_id": order.order_id,
            "encoding": order.encoding,
            "message_type": order.message_type,
            "return_remaining": True,
        }
        if order.campaign_name:
            fields["campaign_name"] = order.campaign_name
        if order.groups:
            return self.client.send_to_groups(order.message, order.groups, **fields)
        if order.params:
            maps = [
                {"recipient": number, **values}
                for number, values in zip(order.recipients, order.params, strict=True)
            ]
            keyed = self.conf.paramsms_keyed_recipients
            return self.client.send_params(order.message, maps, keyed=keyed, **fields)
        return self.client.send_sms(order.message, list(order.recipients), **fields)

    def get_order(self, order_id: str) -> OrderReport:
        with observed("get_order"):
            return self.client.get_order(order_id)

    def cancel(self, order_id: str) -> None:
        with observed("cancel"):
            self.client.cancel(order_id)

    def get_status(self) -> AccountStatus:
        with observed("get_status"):
            return self.client.get_status()

    # -- the gateway's PIN service ------------------------------------------------------

    supports_pin = True

    def request_pin(
        self,
        recipient: str,
        *,
        message_body: str | None = None,
        expiry_minutes: int | None = None,
        sender_name: str | None = None,
    ) -> None:
        self.client.request_pin(
            recipient,
            message_body=message_body,
            expiry_minutes=expiry_minutes,
            sender_name=sender_name,
        )

    def verify_pin(self, recipient: str, pin: str) -> PinCheck:
        return self.client.verify_pin(recipient, pin)

    # -- received SMS -------------------------------------------------------------------

    supports_inbound = True

    def receive(self, limit: int) -> list[ReceivedItem]:
        from django_smsrest.client.inbound import get_new_received

        return get_new_received(self.client, limit=limit)

    def received_history(
        self,
        date_from: datetime,
        *,
        page: int,
        page_size: int,
        date_to: datetime | None = None,
    ) -> ReceivedPage:
        from django_smsrest.client.inbound import get_received_history

        return get_received_history(
            self.client, date_from, date_to, page=page, page_size=page_size
        )

    # -- the SMS blacklist --------------------------------------------------------------

    supports_blacklist = True

    def get_blacklist(self, *, page: int, page_size: int, since: datetime | None) -> BlacklistPage:
        return self.client.get_blacklist(page=page, page_size=page_size, date_from=since)

    def add_to_blacklist(self, numbers: Sequence[str]) -> None:
        if len(numbers) == 1:
            self.client.add_to_blacklist(numbers[0])
        else:
            self.client.add_many_to_blacklist(numbers)

    supports_aliases = True

    def get_aliases(self, *, page: int, page_size: int) -> AliasPage:
        return self.client.get_aliases(page=page, page_size=page_size)
