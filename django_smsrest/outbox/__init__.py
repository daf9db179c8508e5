"""The machinery behind :mod:`django_smsrest.services`: claims and leases (:mod:`.claims`),
backoff (:mod:`.backoff`), leases (:mod:`.leases`), and the send engine, split by job: the
claim (:mod:`.claimed`), the decisions (:mod:`.decide`), the record (:mod:`.outcomes`), one
message's send (:mod:`.job`) and many at once (:mod:`.batch`, :mod:`.batch_rows`).
Internal: call the functions in ``services`` (the only public place that changes a
message's state); this module exists to keep that one readable.

The invariants every piece here keeps:

* A row is worked on only under a claim: a conditional UPDATE that stores a fresh
  ``claim_token`` and a ``lease_until``. Every later message write is guarded by that token
  (:meth:`ClaimedMessage.write`); a worker whose lease expired and was taken over gets
  :class:`LostClaim` and stops.
* No transaction is open across an HTTP call: each write is its own autocommit statement.
* "The gateway has order X" is recorded as soon as it is known, without the token guard
  (:meth:`ClaimedMessage.accept`), because it is a fact whoever holds the claim, and it
  is what keeps the next claimant from posting X again.
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
from django_smsrest.outbox.decide import Verdict, failure_verdict, sent_fields
from django_smsrest.outbox.job import Job
from django_smsrest.outbox.leases import covers, send_cover, send_lease
from django_smsrest.outbox.outcomes import Outcomes
from django_smsrest.outbox.reporting import ERROR_MAX, describe_error, digits, send_robust
from django_smsrest.outbox.reports import advance, hold, state_counts

__all__ = [
    "ERROR_MAX",
    "RETRY_AFTER_MAX",
    "BatchFlush",
    "ClaimedMessage",
    "Job",
    "LostClaim",
    "Outcomes",
    "Verdict",
    "advance",
    "claim",
    "claim_batch",
    "covers",
    "describe_error",
    "digits",
    "due_q",
    "failure_verdict",
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
    "sent_fields",
    "state_counts",
    "take_lock",
]
