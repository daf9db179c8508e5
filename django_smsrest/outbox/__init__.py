"""The machinery behind :mod:`django_smsrest.services`: claims and leases (:mod:`.claims`),
backoff (:mod:`.backoff`), and the send job that records each gateway answer (:mod:`.job`,
on :mod:`.claimed` and :mod:`.outcomes`). Internal: call the functions in ``services``
(the only public place that changes a message's state); this module exists to keep that
one readable.

The invariants every piece here keeps:

* A row is worked on only under a claim: a conditional UPDATE that stores a fresh
  ``claim_token`` and a ``lease_until``. Every later message write is guarded by that token
  (:meth:`Job.write`); a worker whose lease expired and was taken over gets
  :class:`LostClaim` and stops.
* No transaction is open across an HTTP call: each write is its own autocommit statement.
* "The gateway has order X" is recorded as soon as it is known, without the token guard
  (:meth:`Job.accept`), because it is a fact whoever holds the claim, and it is what keeps
  the next claimant from posting X again.
"""

from __future__ import annotations

from django_smsrest.outbox.backoff import RETRY_AFTER_MAX, retry_delay
from django_smsrest.outbox.batch import BatchFlush
from django_smsrest.outbox.claimed import ClaimedMessage
from django_smsrest.outbox.claims import (
    LostClaim,
    claim,
    claim_batch,
    due_q,
    lease_free_q,
    on_commit,
    outbox_db,
    release_lock,
    renew_lock,
    take_lock,
)
from django_smsrest.outbox.job import Job
from django_smsrest.outbox.leases import covers, send_cover, send_lease
from django_smsrest.outbox.reporting import ERROR_MAX, describe_error, digits, send_robust
from django_smsrest.outbox.reports import advance, hold, state_counts

__all__ = [
    "ERROR_MAX",
    "RETRY_AFTER_MAX",
    "BatchFlush",
    "ClaimedMessage",
    "Job",
    "LostClaim",
    "advance",
    "claim",
    "claim_batch",
    "covers",
    "describe_error",
    "digits",
    "due_q",
    "hold",
    "lease_free_q",
    "on_commit",
    "outbox_db",
    "release_lock",
    "renew_lock",
    "retry_delay",
    "send_cover",
    "send_lease",
    "send_robust",
    "state_counts",
    "take_lock",
]
