"""The one lease rule of the send engine: how long a claim to send must last.

A POST starts only when the claim's lease still covers the worst case of that send
(:meth:`~django_smsrest.backends.BaseBackend.max_send_seconds`: waits for a shared login,
logins, the request's own timeouts) plus :data:`LEASE_MARGIN_SECONDS`; otherwise the lease
is renewed, with a guarded UPDATE, to at least that (:func:`send_lease`). The sweeper only
takes over a message whose lease is over, so it never asks ``GET sms/{order_id}`` while a
POST of that order may still reach the gateway, whatever ``LEASE_SECONDS`` says: a lease
that is too short costs extra renewals and, for a worker that really stalled, an extra
GET, never a second SMS.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django_smsrest.backends import BaseBackend
from django_smsrest.conf import SmsRestSettings

#: Added to a send's worst case: the clocks of two hosts (the sweeper compares the lease
#: with its own clock) and the database writes around the POST.
LEASE_MARGIN_SECONDS = 1.0


def send_cover(backend: BaseBackend) -> timedelta:
    """What a lease must still cover when a POST starts."""
    return timedelta(seconds=backend.max_send_seconds() + LEASE_MARGIN_SECONDS)


#: A claim to send lasts this share of :func:`send_cover` beyond it, so that the check
#: before each POST finds it covered for a while (the POSTs of a whole claimed batch)
#: instead of renewing it before every one.
RENEW_HEADROOM = 0.25


def send_lease(conf: SmsRestSettings, backend: BaseBackend) -> timedelta:
    """The lease a claim to send takes, and renews to: ``LEASE_SECONDS``, never less than
    :func:`send_cover`, plus :data:`RENEW_HEADROOM` of the cover."""
    cover = send_cover(backend)
    return max(timedelta(seconds=conf.lease_seconds), cover) + cover * RENEW_HEADROOM


def covers(until: datetime | None, now: datetime, backend: BaseBackend) -> bool:
    """Whether a lease ending at ``until`` lets a POST start at ``now`` (the one check
    before every POST, sequential or batched)."""
    return until is not None and until - now >= send_cover(backend)
