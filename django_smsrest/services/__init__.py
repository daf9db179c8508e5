"""The only code that changes an SMS's state or talks to a backend.

Entry points (admin, commands, views, tasks, signal receivers) call these functions and
nothing else. The flow, and the rules it keeps:

1. **The row is the outbox.** :func:`send_sms` validates, then writes the ``SmsMessage``,
   its ``SmsOrder`` rows (one per ``POST sms``, ``MAX_RECIPIENTS_PER_ORDER`` recipients
   each, every one with its own ``order_id``) and its ``SmsRecipient`` rows in one
   transaction. The ``order_id``\\ s are committed before any POST: they are the
   idempotency and reconciliation keys.
2. **Claim, then talk, then record.** :func:`send_message` claims a row with one
   conditional ``UPDATE`` (works the same on SQLite and PostgreSQL; the loser of a race
   updates nothing and returns ``None``), commits, calls the backend with no transaction
   open, and records each answer right after it with an ``UPDATE`` guarded by the claim
   token, so a worker whose lease was taken over cannot overwrite newer state.
3. **Failures are classified.** Surely-not-sent and retryable: back to ``QUEUED`` with
   capped exponential backoff and full jitter. Surely-not-sent and permanent (400, bad
   credentials): ``FAILED`` at once with the gateway's reason. Maybe-sent (timeout, 5xx,
   dropped connection, anything unexpected): ``UNKNOWN``, then ``GET sms/{order_id}``
   before anything is sent again.
4. **States only move forward.** Every status write is conditional on the state it leaves;
   delivery states only climb :data:`~django_smsrest.lifecycle.DELIVERY_RANK`; a final message
   is never reopened. A resend is a new, linked row (:func:`resend`).

The statuses and every move between them are in :mod:`django_smsrest.lifecycle`.

The verbs live in submodules by job (:mod:`.sending`, :mod:`.bulk`, :mod:`.delivery`,
:mod:`.cancelling`, :mod:`.queue`, :mod:`.inbound`, :mod:`.callbacks`, :mod:`.health`) and
are all re-exported here: call them as ``services.send_sms(...)``.
Validation lives in :mod:`django_smsrest.validation` and the claim/lease/backoff machinery
in :mod:`django_smsrest.outbox`; :func:`validate_sms`, :class:`ValidatedSms` and
:func:`retry_delay` are re-exported here too.
"""

from __future__ import annotations

from django_smsrest.outbox import retry_delay
from django_smsrest.services.base import SmsStateError
from django_smsrest.services.blacklist import SyncReport, list_aliases, sync_blacklist
from django_smsrest.services.bulk import BulkValidationError, queue_many
from django_smsrest.services.callbacks import CallbackOutcome, record_delivery_report
from django_smsrest.services.cancelling import cancel, get_credits
from django_smsrest.services.codes import (
    CodeRateLimited,
    expire_due_codes,
    send_code,
    send_due_codes,
    send_notice,
)
from django_smsrest.services.consent import is_suppressed, suppress, unsuppress
from django_smsrest.services.delivery import refresh_due_statuses, refresh_status
from django_smsrest.services.health import QueueHealth, beat, metrics_snapshot, queue_health
from django_smsrest.services.inbound import ReceiveReport, receive_sms
from django_smsrest.services.pins import request_pin, verify_pin
from django_smsrest.services.queue import (
    FlushReport,
    SweepReport,
    flush_queue,
    pending_count,
    sweep,
)
from django_smsrest.services.reports import retry_reasons
from django_smsrest.services.sending import (
    queue_sms,
    reconcile,
    resend,
    send_message,
    send_sms,
)
from django_smsrest.validation import ValidatedSms, validate_sms

__all__ = [
    "BulkValidationError",
    "CallbackOutcome",
    "CodeRateLimited",
    "FlushReport",
    "QueueHealth",
    "ReceiveReport",
    "SmsStateError",
    "SweepReport",
    "SyncReport",
    "ValidatedSms",
    "beat",
    "cancel",
    "expire_due_codes",
    "flush_queue",
    "get_credits",
    "is_suppressed",
    "list_aliases",
    "metrics_snapshot",
    "pending_count",
    "queue_health",
    "queue_many",
    "queue_sms",
    "receive_sms",
    "reconcile",
    "record_delivery_report",
    "refresh_due_statuses",
    "refresh_status",
    "request_pin",
    "resend",
    "retry_delay",
    "retry_reasons",
    "send_code",
    "send_due_codes",
    "send_message",
    "send_notice",
    "send_sms",
    "suppress",
    "sweep",
    "sync_blacklist",
    "unsuppress",
    "validate_sms",
    "verify_pin",
]
