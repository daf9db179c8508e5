"""Login codes: :func:`send_code` (a one-time code to one number, sent at once, never after
it expired, never kept in clear, within ``SMSREST["RATE_LIMITS"]``), and what keeps codes
ahead of the bulk queue (:func:`send_due_codes`) and ends the ones that ran out of time
(:func:`expire_due_codes`). How the clear text is kept and the expiry gate: see
:mod:`django_smsrest.codes`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from django_smsrest import codes, dispatch, ratelimit, signals
from django_smsrest.conf import get_settings
from django_smsrest.models import SmsMessage, Status
from django_smsrest.outbox import ClaimedMessage, claim, due_q, on_commit, outbox_db, send_robust
from django_smsrest.services.base import CHUNK_SIZE, in_user_atomic, logger
from django_smsrest.services.sending import _create, send_message
from django_smsrest.validation import ValidatedSms, validate_sms

__all__ = [
    "CodeRateLimited",
    "CodesFirst",
    "enqueue_due_codes",
    "expire_due_codes",
    "send_code",
    "send_due_codes",
    "send_notice",
]

#: The task priority of a queued code's hint (django.tasks' highest).
CODE_TASK_PRIORITY = 100


class CodeRateLimited(ValidationError):
    """Too many codes for this number, or for the whole project, in a window of
    ``SMSREST["RATE_LIMITS"]``. Nothing was written or sent. ``key`` is the number (or
    ``"*"``), ``limit`` the :class:`~django_smsrest.limits.Limit` hit, ``retry_at`` when
    the window ends."""

    def __init__(self, exceeded: ratelimit.Exceeded) -> None:
        if exceeded.key == ratelimit.ALL:
            message = _(
                "Too many login codes are being sent right now (at most %(limit)s for the "
                "whole site); ask again from %(time)s on."
            )
        else:
            message = _(
                "Too many login codes were sent to %(number)s (at most %(limit)s); ask "
                "again from %(time)s on."
            )
        super().__init__(
            message,
            code="rate_limited",
            params={
                "number": exceeded.key,
                "limit": str(exceeded.limit),
                "time": formats.localize(timezone.localtime(exceeded.retry_at)),
            },
        )
        self.key = exceeded.key
        self.limit = exceeded.limit
        self.retry_at = exceeded.retry_at


def _check_code(text: Any, code: Any, valid_seconds: Any) -> dict[str, list[ValidationError]]:
    errors: dict[str, list[ValidationError]] = {}
    if not isinstance(code, str) or not code.strip():
        errors["code"] = [ValidationError(_("The code must be non-empty text."), code="code")]
    elif isinstance(text, str) and code not in text:
        errors["message"] = [
            ValidationError(
                _("The text must contain the code, so that it can be masked when stored."),
                code="code_missing",
            )
        ]
    if isinstance(text, str) and codes.MASK in text:
        errors.setdefault("message", []).append(
            ValidationError(
                _("The text must not contain “%(mask)s”: it masks the code when stored."),
                code="mask_in_text",
                params={"mask": codes.MASK},
            )
        )
    if valid_seconds is not None and (
        isinstance(valid_seconds, bool)
        or not isinstance(valid_seconds, int | float)
        or valid_seconds <= 0
    ):
        errors["valid_seconds"] = [
            ValidationError(
                _("The validity must be a positive number of seconds."), code="valid_seconds"
            )
        ]
    return errors


def send_code(
    text: str,
    recipient: str | phonenumbers.PhoneNumber,
    *,
    code: str,
    valid_seconds: float | None = None,
    sender: str | None = None,
    message_type: str | None = None,
    defer: bool = False,
) -> SmsMessage:
    """Send ``text``, which contains the one-time ``code``, to ``recipient`` (one number:
    text or a ``phonenumbers.PhoneNumber``, e.g. django-phonenumber-field's).

    * **Sent at once**: inline in this process (after the caller's transaction commits,
      when called inside one), with ``message_type`` defaulting to
      ``SMSREST["CODE_MESSAGE_TYPE"]`` (the brand's highest-quality type). When it must
      wait (``defer=True``, or a retry after a failed attempt) it is taken before any other
      due message (``priority``).
    * **Never after it expired**: ``valid_seconds`` (default
      ``SMSREST["CODE_VALID_SECONDS"]``) sets ``expires_at``; after that it is never
      POSTed, retried or resent and ends EXPIRED.
    * **Never kept in clear**: the row, the admin, the signals and the logs see the text
      with the code masked (``"Il tuo codice è ••••••"``); see :mod:`django_smsrest.codes`.
    * **Rate limited** per number and project-wide (``SMSREST["RATE_LIMITS"]``): over a
      limit, :class:`CodeRateLimited` is raised, the ``code_rate_limited`` signal is sent,
      and nothing is written or sent.

    Bad input raises ``ValidationError`` (the fields of :func:`validate_sms`, plus
    ``code`` and ``valid_seconds``) before anything is written. Returns the row as
    :func:`send_sms` does (``SENT``..., ``EXPIRED``, or ``QUEUED`` when it waits).
    """
    conf = get_settings()
    errors = _check_code(text, code, valid_seconds)
    try:
        sms = validate_sms(
            text,
            [recipient],
            conf=conf,
            sender=sender,
            message_type=message_type or conf.code_message_type,
        )
    except ValidationError as exc:
        errors = {**exc.update_error_dict({}), **errors}
    if errors:
        raise ValidationError(errors)
    expires_at = timezone.now() + timedelta(seconds=valid_seconds or conf.code_valid_seconds)
    return _limited_send(sms, text, code, expires_at, defer=defer)


def _limited_send(
    sms: ValidatedSms,
    text: str,
    code: str | None,
    expires_at: datetime | None,
    *,
    defer: bool = False,
) -> SmsMessage:
    """Take the rate limits and write the message in one transaction (a refusal writes
    nothing), then send it at once (or hand it to a worker ahead of the queue). ``code``:
    masked in the row, the clear text kept in the cache until ``expires_at``; ``None``:
    a notice with no secret, stored as it is."""
    conf = get_settings()
    inline = not defer and not in_user_atomic()
    try:
        with transaction.atomic(using=outbox_db()):
            ratelimit.consume(sms.recipients, conf.rate_limits, timezone.now())
            fields: dict[str, Any] = {"priority": codes.CODE_PRIORITY}
            if code is not None:
                sms = replace(sms, message=codes.mask(text, code))
                fields.update(is_code=True, expires_at=expires_at)
            msg = _create(sms, conf, None, **fields)
            if code is not None and expires_at is not None:
                codes.keep_clear_text(msg.order_id, text, expires_at, conf)
            if defer:
                on_commit(partial(dispatch.enqueue_send, msg.pk, priority=CODE_TASK_PRIORITY))
            elif not inline:
                on_commit(partial(send_message, msg.pk))
    except ratelimit.Exceeded as exceeded:
        raise _refused(exceeded, sms.recipients[0]) from None
    if inline:
        send_message(msg.pk)
        msg.refresh_from_db()
    return msg


def _refused(exceeded: ratelimit.Exceeded, recipient: str) -> CodeRateLimited:
    """Log and signal a refusal; the error to raise."""
    logger.warning(
        "Login code refused: the limit %s for %s is reached",
        exceeded.limit,
        "the whole site" if exceeded.key == ratelimit.ALL else "one number",
    )
    send_robust(
        signals.code_rate_limited,
        recipient=recipient,
        scope="total" if exceeded.key == ratelimit.ALL else "number",
        limit=exceeded.limit,
        retry_at=exceeded.retry_at,
    )
    return CodeRateLimited(exceeded)


def send_notice(text: str, recipient: str | phonenumbers.PhoneNumber) -> SmsMessage:
    """A message of a login flow that holds no secret (django-allauth's "no account uses
    this number"): counted against ``RATE_LIMITS`` like a code, since whoever types a
    number decides where it goes (SMS pumping), and sent at once, ahead of the queue, with
    the code message type. Kept in clear (no expiry). Raises :class:`CodeRateLimited` or
    ``ValidationError`` before anything is written."""
    conf = get_settings()
    sms = validate_sms(text, [recipient], conf=conf, message_type=conf.code_message_type)
    return _limited_send(sms, text, None, None)


def send_due_codes(
    *,
    now: datetime | None = None,
    on_sent: Callable[[int, SmsMessage | None], None] | None = None,
) -> int:
    """Send the due queued messages with a priority (login codes) now, highest priority
    first, each claimed like :func:`send_message`; how many were tried. A flush calls it
    before each batch of the bulk queue, so a code waiting for a retry goes out before
    the next bulk message does."""
    now = now or timezone.now()
    due = SmsMessage.objects.filter(due_q(now), status=Status.QUEUED, priority__gt=0)
    pks = list(due.order_by(*codes.CLAIM_ORDER).values_list("pk", flat=True)[:CHUNK_SIZE])
    for pk in pks:
        msg: SmsMessage | None = None
        try:
            msg = send_message(pk)
        except Exception:
            logger.exception("Could not send SMS #%s", pk)
        if on_sent is not None:
            on_sent(pk, msg)
    return len(pks)


#: How often a flush looks for due login codes to send before the next bulk message: a code
#: waits at most this long (plus the send in progress) behind the bulk queue.
CODES_CHECK_SECONDS = 1.0


class CodesFirst:
    """Called before each bulk message (sequential flush) or each claim (batched flush):
    sends the due login codes first (:func:`send_due_codes`), looking at most every
    :data:`CODES_CHECK_SECONDS` (one indexed query each time; the first call always
    looks)."""

    def __init__(self, on_sent: Callable[[int, SmsMessage | None], None] | None = None) -> None:
        self.on_sent = on_sent
        self._next = 0.0

    def __call__(self) -> int:
        now = time.monotonic()
        if now < self._next:
            return 0
        self._next = now + CODES_CHECK_SECONDS
        return send_due_codes(on_sent=self.on_sent)


def enqueue_due_codes(now: datetime | None = None) -> int:
    """Task hints for the due queued login codes, with :data:`CODE_TASK_PRIORITY`, on
    commit (the sweep, with a task worker, calls it before it re-enqueues the queue)."""
    now = now or timezone.now()
    due = SmsMessage.objects.filter(due_q(now), status=Status.QUEUED, priority__gt=0)
    pks = list(due.order_by(*codes.CLAIM_ORDER).values_list("pk", flat=True)[:CHUNK_SIZE])
    for pk in pks:
        on_commit(partial(dispatch.enqueue_send, pk, priority=CODE_TASK_PRIORITY))
    return len(pks)


def expire_due_codes(now: datetime | None = None) -> int:
    """End EXPIRED every queued code past its expiry, even one whose retry is planned for
    later (it would never be sent anyway); the sweep calls it. Each is claimed first, so
    a worker sending it right now wins and the gate before its POST decides."""
    now = now or timezone.now()
    conf = get_settings()
    ended = 0
    pks = list(codes.expiring_codes(now).values_list("pk", flat=True)[:CHUNK_SIZE])
    for pk in pks:
        token = claim(pk, now, conf, status=Status.QUEUED, is_code=True, expires_at__lte=now)
        if token is None:
            continue
        codes.expire(ClaimedMessage.load(pk, token, conf), str(codes.EXPIRED_REASON))
        ended += 1
    return ended


def forget_clear_text(sender: Any, message: SmsMessage, **kwargs: Any) -> None:
    """``post_send`` receiver (connected in ``AppConfig.ready``): a code that reached an
    ending (sent, failed, expired) has no use for its clear text any more."""
    if message.is_code and message.status != Status.QUEUED:
        codes.forget(message.order_id, get_settings())
