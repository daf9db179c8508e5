"""Creating messages and sending them: :func:`send_sms`, :func:`queue_sms`, :func:`resend`,
the send task's body :func:`send_message`, and :func:`reconcile` for unknown outcomes."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any, Unpack

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_smsrest import dispatch, lifecycle, throttle
from django_smsrest.backends import get_backend
from django_smsrest.conf import SmsRestSettings, get_settings
from django_smsrest.exceptions import GatewayError, OrderNotFound
from django_smsrest.models import Kind, SmsMessage, SmsOrder, SmsRecipient, Status
from django_smsrest.outbox import (
    Job,
    LostClaim,
    claim,
    due_q,
    lease_free_q,
    on_commit,
    outbox_db,
    send_lease,
)
from django_smsrest.services.base import (
    BATCH_SIZE,
    SmsStateError,
    as_message,
    in_user_atomic,
    logger,
)
from django_smsrest.validation import Recipients, SmsOptions, ValidatedSms, validate_sms

# --- creating messages --------------------------------------------------------------------


def _create(
    sms: ValidatedSms, conf: SmsRestSettings, resend_of: SmsMessage | None, **fields: Any
) -> SmsMessage:
    """Insert the message, its orders and its recipients (caller holds the transaction).
    ``fields``: more columns of the message (a login code's, see ``services.codes``)."""
    msg = SmsMessage.objects.create(
        message=sms.message,
        message_type=sms.message_type,
        sender=sms.sender,
        scheduled_delivery_time=sms.scheduled_delivery_time,
        encoding=sms.encoding,
        segments=sms.segments,
        recipient_count=len(sms.recipients),
        kind=sms.kind,
        groups=list(sms.groups),
        purpose=sms.purpose,
        campaign_name=sms.campaign_name,
        status=Status.QUEUED,
        resend_of=resend_of,
        **fields,
    )
    size = conf.max_recipients_per_order
    # A message to contact groups is one order with no recipient rows (the gateway knows
    # the members; they appear with the first delivery report).
    chunks = [sms.recipients[i : i + size] for i in range(0, len(sms.recipients), size)] or [()]
    params = dict(zip(sms.recipients, sms.params, strict=False))
    # The first order carries the message's own order_id, so the message's id is the one
    # the gateway knows for single-order messages (the common case).
    orders = [
        SmsOrder(message=msg, index=i, **({"order_id": msg.order_id} if i == 0 else {}))
        for i in range(len(chunks))
    ]
    SmsOrder.objects.bulk_create(orders)
    if any(order.pk is None for order in orders):  # database without RETURNING
        orders = list(SmsOrder.objects.filter(message=msg).order_by("index"))
    SmsRecipient.objects.bulk_create(
        (
            SmsRecipient(
                message=msg, order=order, phone_number=number, params=params.get(number, {})
            )
            for order, chunk in zip(orders, chunks, strict=True)
            for number in chunk
        ),
        batch_size=BATCH_SIZE,
    )
    return msg


def send_sms(
    message: str,
    recipients: Recipients = None,
    *,
    defer: bool = False,
    resend_of: SmsMessage | None = None,
    **options: Unpack[SmsOptions],
) -> SmsMessage:
    """Validate an SMS, store it in the outbox and send it (or hand it to a worker).

    ``options`` (``sender``, ``message_type``, ``scheduled_delivery_time``): see
    :class:`~django_smsrest.validation.SmsOptions`. Raises ``ValidationError`` (see
    :func:`validate_sms`) before writing anything. ``resend_of`` links a resend to its
    original (:func:`resend`).

    ``defer=False``: once the rows are committed, send now in this process and return the
    row as the gateway left it (``SENT``, ``SCHEDULED``, ``FAILED``, or ``QUEUED`` with a
    retry planned). Called inside the caller's own ``transaction.atomic()`` block, the send
    cannot happen before that block commits: it is registered with ``on_commit`` and the
    still-``QUEUED`` row is returned.

    ``defer=True`` (:func:`queue_sms`): enqueue the send task when the transaction commits
    and return the ``QUEUED`` row. With the ``ImmediateBackend`` the task runs at commit,
    so call ``refresh_from_db()`` to see its outcome.
    """
    conf = get_settings()
    sms = validate_sms(message, recipients, conf=conf, **options)
    _check_backend_supports(sms, conf)
    inline = not defer and not in_user_atomic()
    with transaction.atomic(using=outbox_db()):
        msg = _create(sms, conf, resend_of)
        if defer:
            on_commit(partial(dispatch.enqueue_send, msg.pk))
        elif not inline:
            on_commit(partial(send_message, msg.pk))
    if inline:
        send_message(msg.pk)
        msg.refresh_from_db()
    return msg


def _check_backend_supports(sms: ValidatedSms, conf: SmsRestSettings) -> None:
    """Refuse, before anything is written, a kind of message the backend cannot send."""
    backend = get_backend(conf)
    if sms.kind == Kind.PARAMS and not backend.supports_params:
        raise ValidationError(
            {"recipients": _("The configured backend cannot send personalised messages.")}
        )
    if sms.kind == Kind.GROUPS and not backend.supports_groups:
        raise ValidationError(
            {"groups": _("The configured backend cannot send to contact groups.")}
        )


def queue_sms(
    message: str,
    recipients: Recipients = None,
    **options: Unpack[SmsOptions],
) -> SmsMessage:
    """``send_sms(..., defer=True)``: store the SMS and let a worker send it."""
    return send_sms(message, recipients, defer=True, **options)


def resend(message: SmsMessage | int, *, defer: bool = True) -> SmsMessage:
    """Send ``message`` again as a NEW message linked by ``resend_of``, with fresh order ids
    (the old orders are never posted again). Refused while the original is still queued,
    being sent, or scheduled (cancel it first): two live copies would both go out.

    A schedule still in the future is kept; a past one is dropped (send now).
    """
    original = as_message(message)
    if original.is_code:  # its clear text is gone, and an old code is of no use anyway
        raise SmsStateError(
            _("SMS #%(pk)s is a login code; a code is never resent (ask for a new code)."),
            code="resend_code",
            params={"pk": original.pk},
        )
    if original.status not in lifecycle.RESENDABLE:
        raise SmsStateError(
            _(
                "SMS #%(pk)s is still %(status)s; it cannot be resent until it has been "
                "sent, has failed or has been cancelled."
            ),
            code="resend_in_flight",
            params={"pk": original.pk, "status": original.get_status_display()},
        )
    when = original.scheduled_delivery_time
    if when is not None and when <= timezone.now():
        when = None
    rows = original.recipients.order_by("id").values_list("phone_number", "params")
    recipients: list[Any]
    if original.kind == Kind.PARAMS:  # the same values, so the same texts
        recipients = [{"recipient": number, **values} for number, values in rows]
    else:
        recipients = [number for number, _values in rows]
    if original.kind == Kind.GROUPS:
        recipients = []
    return send_sms(
        original.message,
        recipients,
        groups=list(original.groups) if original.kind == Kind.GROUPS else None,
        sender=original.sender,
        message_type=original.message_type,
        scheduled_delivery_time=when,
        purpose=original.purpose,
        campaign_name=original.campaign_name,
        defer=defer,
        resend_of=original,
    )


# --- sending ------------------------------------------------------------------------------


def send_message(pk: int, *, force: bool = False) -> SmsMessage | None:
    """Send the queued message ``pk`` now: the body of the send task. Safe to call twice.

    Claims the row (QUEUED and due -> SENDING) with one conditional UPDATE; if another
    worker got there first, or the message is not queued or not due, does nothing and
    returns ``None``. Otherwise returns the message as the gateway left it. Called inside
    the caller's ``atomic()`` block, it sends when that block commits and returns ``None``.

    ``force=True`` ignores ``next_attempt_at`` (an explicit "send now" by a person, e.g.
    from the admin); the claim still lets only one worker through.

    While the account is paused after a 429 (:mod:`django_smsrest.throttle`) nothing is
    claimed or posted: a QUEUED message's ``next_attempt_at`` moves to the end of the pause
    (one conditional UPDATE) and ``None`` is returned. ``force=True`` sends anyway.
    """
    if in_user_atomic():
        # No transaction may stay open across the gateway call: rolled back after the POST,
        # it would forget an order the gateway has (e.g. an admin action under
        # ATOMIC_REQUESTS). Send when the caller's transaction commits instead.
        on_commit(partial(send_message, pk, force=force))
        return None
    conf = get_settings()
    now = timezone.now()
    if not force:
        paused_until = throttle.sending_paused_until(now, conf=conf)
        if paused_until is not None:
            _defer(pk, paused_until, now)
            return None
    conditions = () if force else (due_q(now),)
    backend = get_backend(conf)
    lease = send_lease(conf, backend)
    token = claim(pk, now, conf, *conditions, sending=True, lease=lease, status=Status.QUEUED)
    if token is None:
        return None
    job = Job.load(pk, token, conf, backend=backend)
    try:
        msg = job.run()
    except LostClaim:
        logger.warning("SMS #%s: lease lost while sending; another worker took over", pk)
        job.msg.refresh_from_db()
        return job.msg
    except Exception:
        _hint_retry(job.msg)  # a failing pre_send receiver re-queued it, then raised
        raise
    return _hint_retry(msg)


def _hint_retry(msg: SmsMessage) -> SmsMessage:
    """A message put back in the queue for a retry gets a task hint for its retry time,
    for task backends that can run a task later; the sweeper covers the others."""
    if msg.status == Status.QUEUED and msg.next_attempt_at is not None:
        on_commit(partial(dispatch.enqueue_send, msg.pk, run_after=msg.next_attempt_at))
    return msg


def _defer(pk: int, until: datetime, now: datetime) -> None:
    """Move a QUEUED message's next attempt to ``until`` (never earlier than planned), and
    leave a task hint for then; the sweeper re-enqueues it anyway once the pause is over."""
    moved = SmsMessage.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=until),
        pk=pk,
        status=Status.QUEUED,
    ).update(next_attempt_at=until, updated_at=now)
    if moved:
        on_commit(partial(dispatch.enqueue_send, pk, run_after=until))


def reconcile(pk: int, *, now: datetime | None = None, force: bool = False) -> SmsMessage | None:
    """Settle an UNKNOWN message with ``GET sms/{order_id}`` for each order not yet
    accepted: found -> accepted (no second POST); all found -> SENT/SCHEDULED; some 404 ->
    QUEUED with backoff (they were never sent); a GET failing -> stays UNKNOWN.

    Returns ``None`` when the message is not UNKNOWN, not due (unless ``force``: an
    explicit request by a person), or being worked on by someone else.
    """
    conf = get_settings()
    now = now or timezone.now()
    conditions = (lease_free_q(now),) if force else (due_q(now), lease_free_q(now))
    token = claim(pk, now, conf, *conditions, status__in=[Status.UNKNOWN])
    if token is None:
        return None
    job = Job.load(pk, token, conf)
    claimed, record = job.claim, job.record
    msg = job.msg
    try:
        missing: OrderNotFound | None = None
        for order, _numbers in claimed.pending_orders():
            try:
                result = claimed.lookup(order)
            except OrderNotFound as exc:
                missing = exc
                continue
            except Exception as exc:
                if not isinstance(exc, GatewayError):
                    logger.exception("Unexpected error reconciling SMS #%s", pk)
                return record.stay_unknown(exc)
            claimed.accept(order, result, last=False)
        if missing is not None:
            return _hint_retry(record.retry(missing))
        return record.succeed()
    except LostClaim:
        msg.refresh_from_db()
        return msg
