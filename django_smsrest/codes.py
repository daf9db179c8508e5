"""Login codes: a kind of message that goes out at once, never after it expired, and is
never kept in clear. The pieces the outbox calls; the verb is
:func:`django_smsrest.services.send_code`.

Where the clear text lives
--------------------------
* The database, the admin, the signals, the logs and the command see ``SmsMessage.message``,
  which holds the text with the code masked (``"Il tuo codice è ••••••"``), from the
  moment the row is written.
* The clear text is put in the cache (``SMSREST["CACHE"]``, the alias that already holds
  the account-wide 429 pause) under the message's ``order_id``, for the code's validity plus
  :data:`CACHE_GRACE_SECONDS`, when the row is written; it is read once per send attempt, by
  :func:`before_post`, and kept on the send job in memory until the POST is built
  (:func:`text_to_post`). It is deleted as soon as the message reaches an ending
  (:func:`forget`). So a code sent inline (the normal case) is in the cache for the time of
  one POST, a retried one at most until it expires, and never on disk in the database.
* A worker that cannot read the text (a per-process cache such as ``LocMemCache`` and a
  worker in another process, or an evicted entry) does not send the masked text: the
  message ends EXPIRED with a reason that says so (:data:`UNAVAILABLE_REASON`).

The expiry gate
---------------
:func:`before_post` is called by the send job before the ``pre_send`` signal (one place,
before every POST of the sequential and the batched send): a code past ``expires_at``
ends EXPIRED ("expired before it could be sent") and is never POSTed. A queued code whose
retry time lies after its expiry is ended by :func:`expiring_codes` + the sweep
(``services.codes.expire_due_codes``). A code whose outcome is UNKNOWN is still
reconciled: a lookup that finds it accepted is recorded as usual.

Priority
--------
:data:`CLAIM_ORDER` is the order in which due messages are taken: ``priority`` first
(codes have :data:`CODE_PRIORITY`), then by primary key (oldest first).
"""

from __future__ import annotations

import weakref
from datetime import datetime
from typing import TYPE_CHECKING, Final

from django.core.cache import caches
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_smsrest import signals
from django_smsrest.conf import SmsRestSettings
from django_smsrest.exceptions import NotSentError
from django_smsrest.models import OrderStatus, SmsMessage, SmsOrder, Status
from django_smsrest.outbox.claims import outbox_db
from django_smsrest.outbox.reporting import send_robust

if TYPE_CHECKING:
    from django_smsrest.outbox.claimed import ClaimedMessage

__all__ = [
    "CLAIM_ORDER",
    "CODE_PRIORITY",
    "MASK",
    "CodeExpired",
    "before_post",
    "expiring_codes",
    "forget",
    "keep_clear_text",
    "mask",
    "text_to_post",
]

#: What a code's digits become in the stored text ("Il tuo codice è ••••••").
MASK: Final = "•"
#: The priority of a code (the bulk queue has 0).
CODE_PRIORITY: Final = 100
#: How due messages are taken: the highest priority first, then the oldest.
CLAIM_ORDER: Final = ("-priority", "pk")
#: The cache keeps the clear text this much longer than the code is valid, so a send that
#: passed the expiry gate always finds it when it builds the POST.
CACHE_GRACE_SECONDS: Final = 30

EXPIRED_REASON = _("The login code expired before it could be sent.")
UNAVAILABLE_REASON = _(
    "The login code is not available to this worker any more (it expired, or "
    "SMSREST['CACHE'] is a cache the worker that queued it does not share), so it was "
    "not sent."
)

# The clear text of a code being sent, per send job, in memory only (never on the row).
_texts: weakref.WeakKeyDictionary[ClaimedMessage, str] = weakref.WeakKeyDictionary()


class CodeExpired(NotSentError):
    """A login code that was not sent because its time ran out (or its clear text is no
    longer available): the ``error`` of the ``post_send`` signal for an EXPIRED message."""


def mask(text: str, code: str) -> str:
    """``text`` with every occurrence of ``code`` replaced by as many :data:`MASK`."""
    return text.replace(code, MASK * len(code))


def _key(order_id: str) -> str:
    return f"django_smsrest:code:{order_id}"


def keep_clear_text(order_id: str, text: str, expires_at: datetime, conf: SmsRestSettings) -> None:
    """Keep the clear text of the code message ``order_id`` until it expires (+ grace)."""
    seconds = (expires_at - timezone.now()).total_seconds() + CACHE_GRACE_SECONDS
    caches[conf.cache].set(_key(order_id), text, timeout=max(1, int(seconds)))


def forget(order_id: str, conf: SmsRestSettings) -> None:
    """Drop the clear text of ``order_id`` (the message has reached an ending)."""
    caches[conf.cache].delete(_key(order_id))


def before_post(job: ClaimedMessage) -> SmsMessage | None:
    """The expiry gate, before every POST of a claimed message: ``None`` to go on (for a
    code, its clear text is now held for :func:`text_to_post`), or the message ended
    EXPIRED (nothing was sent; ``post_send`` fired with a :class:`CodeExpired`)."""
    msg = job.msg
    if not msg.is_code:
        return None
    if msg.expires_at is not None and msg.expires_at <= timezone.now():
        return expire(job, str(EXPIRED_REASON))
    text = caches[job.conf.cache].get(_key(msg.order_id))
    if not isinstance(text, str):
        return expire(job, str(UNAVAILABLE_REASON))
    _texts[job] = text
    return None


def text_to_post(job: ClaimedMessage) -> str:
    """The text to POST for ``job``'s message: the clear text held by :func:`before_post`
    for a code, ``message`` for anything else. A code without it is never POSTed masked."""
    if not job.msg.is_code:
        return job.msg.message
    try:
        return _texts[job]
    except KeyError:
        raise CodeExpired(str(UNAVAILABLE_REASON)) from None


def expire(job: ClaimedMessage, reason: str) -> SmsMessage:
    """End the claimed code message EXPIRED with ``reason``: its pending orders are
    cancelled (never POSTed), its clear text forgotten, ``post_send`` fired."""
    msg, now = job.msg, timezone.now()
    with transaction.atomic(using=outbox_db()):
        job.release(
            Status.EXPIRED, next_attempt_at=None, last_error=reason[:1000], finished_at=now
        )
        SmsOrder.objects.filter(message_id=msg.pk, status=OrderStatus.PENDING).update(
            status=OrderStatus.CANCELLED
        )
    forget(msg.order_id, job.conf)
    _texts.pop(job, None)
    send_robust(signals.post_send, message=msg, result=None, results=[], error=CodeExpired(reason))
    return msg


def expiring_codes(now: datetime) -> QuerySet[SmsMessage]:
    """Queued codes past their expiry (whatever their next attempt time)."""
    return SmsMessage.objects.filter(status=Status.QUEUED, is_code=True, expires_at__lte=now)
