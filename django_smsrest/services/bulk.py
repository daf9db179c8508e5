"""Queueing many messages at once: :func:`queue_many`.

``queue_sms`` costs one transaction, three INSERTs and one task hint per message (about
3.5 ms each). :func:`queue_many` validates every item exactly as ``queue_sms`` does (the
same :func:`~django_smsrest.validation.validate_sms`, the same options; each distinct
number and text checked once per call), then writes the messages, their orders and their
recipients with one multi-row INSERT each a batch at a time
(:func:`~django_smsrest.services.inserts.insert_rows`, or ``bulk_create`` on a database
without multi-row ``RETURNING``), and leaves one task hint per batch: ``bench/bulk.py``
measures it side by side with ``queue_sms``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from django_smsrest import dispatch
from django_smsrest.conf import SmsRestSettings, get_settings
from django_smsrest.models import (
    Kind,
    SmsMessage,
    SmsOrder,
    SmsRecipient,
    Status,
    new_order_id,
)
from django_smsrest.outbox import on_commit, outbox_db
from django_smsrest.services.base import BATCH_SIZE
from django_smsrest.services.inserts import can_insert_rows, insert_rows
from django_smsrest.services.sending import _check_backend_supports
from django_smsrest.validation import SmsOptions, ValidatedSms, validate_sms, validating_many

__all__ = ["BulkValidationError", "queue_many"]

#: Messages written per batch (one INSERT of each table, one task hint).
DEFAULT_BATCH_SIZE = 500
#: Items whose problems are spelled out in the error's text (all are in ``by_item``).
SHOWN_ITEMS = 20
#: The send options an item may carry: those of ``queue_sms`` (``SmsOptions``), so an
#: option added there is accepted here too.
OPTIONS = frozenset(SmsOptions.__optional_keys__ | SmsOptions.__required_keys__)
KEYS = OPTIONS | {"message", "recipients"}


class BulkValidationError(ValidationError):
    """One or more items of :func:`queue_many` are invalid; nothing was written.

    ``messages`` (and ``str()``) read ``item 3: recipients: …``, one line per problem, items
    numbered from 1 (the first :data:`SHOWN_ITEMS` invalid items). ``by_item`` maps each
    invalid item's position (from 1) to its own ``ValidationError``, as ``queue_sms``
    would have raised it.
    """

    def __init__(self, by_item: dict[int, ValidationError]) -> None:
        self.by_item = by_item
        lines: list[ValidationError] = []
        for position, error in list(by_item.items())[:SHOWN_ITEMS]:
            for field, text in _problems(error):
                lines.append(
                    ValidationError(
                        _("item %(position)d: %(field)s: %(error)s")
                        if field
                        else _("item %(position)d: %(error)s"),
                        code="invalid_item",
                        params={"position": position, "field": field, "error": text},
                    )
                )
        hidden = len(by_item) - SHOWN_ITEMS
        if hidden > 0:
            lines.append(
                ValidationError(
                    ngettext_lazy(
                        "… and %(count)d more invalid item.",
                        "… and %(count)d more invalid items.",
                        "count",
                    ),
                    code="more_invalid_items",
                    params={"count": hidden},
                )
            )
        super().__init__(lines)


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    """``(field, message)`` for every problem of ``error`` (``field`` empty if none)."""
    if hasattr(error, "error_dict"):
        return [
            (field, message)
            for field, errors in error.error_dict.items()
            for item in errors
            for message in item.messages
        ]
    return [("", message) for message in error.messages]


def _item_error(message: Any, code: str, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


def _unpack(item: Any) -> tuple[Any, Any, dict[str, Any]]:
    """``(message, recipients, options)`` of one item; ``ValidationError`` for an item
    that is neither a pair nor a mapping, or a mapping with an unknown key."""
    if isinstance(item, Mapping):
        unknown = sorted(str(key) for key in item if key not in KEYS)
        if unknown:
            raise _item_error(
                _("unknown option(s) %(names)s; an item may have %(known)s."),
                "unknown_option",
                names=", ".join(unknown),
                known=", ".join(["message", "recipients", *sorted(OPTIONS)]),
            )
        if "message" not in item:
            raise _item_error(_("the item has no “message”."), "no_message")
        options = {key: value for key, value in item.items() if key in OPTIONS}
        return item["message"], item.get("recipients"), options
    if isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
        return item[0], item[1], {}
    raise _item_error(
        _(
            "%(value)s is neither a (message, recipients) pair nor a mapping with "
            "“message” and “recipients”."
        ),
        "item_type",
        value=repr(item)[:60],
    )


def _validate(items: list[Any], conf: SmsRestSettings) -> list[ValidatedSms]:
    """Every item checked before anything is written; :class:`BulkValidationError`
    listing every invalid item."""
    checked: list[ValidatedSms] = []
    invalid: dict[int, ValidationError] = {}
    with validating_many():
        for position, item in enumerate(items, start=1):
            try:
                message, recipients, options = _unpack(item)
                sms = validate_sms(message, recipients, conf=conf, **options)
                if sms.kind != Kind.SMS:  # only personalised and group messages can be refused
                    _check_backend_supports(sms, conf)
            except ValidationError as exc:
                invalid[position] = exc
                continue
            checked.append(sms)
    if invalid:
        raise BulkValidationError(invalid)
    return checked


# --- rows ---------------------------------------------------------------------------------


def _model_fields() -> frozenset[str]:
    return frozenset(f.name for f in SmsMessage._meta.concrete_fields)


def _message_row(sms: ValidatedSms, fields: frozenset[str]) -> SmsMessage:
    """The unsaved message of ``sms``: every field of the validated SMS that is a column
    of ``SmsMessage`` (so a send option stored on the row comes along), tuples as lists
    (JSON columns), as ``queue_sms`` stores it (``tests/test_queue_many.py`` compares)."""
    values = {
        f.name: list(value) if isinstance(value := getattr(sms, f.name), tuple) else value
        for f in dataclasses.fields(sms)
        if f.name in fields
    }
    return SmsMessage(**values, recipient_count=len(sms.recipients), status=Status.QUEUED)


def _order_rows(
    msg: SmsMessage, sms: ValidatedSms, size: int
) -> list[tuple[SmsOrder, Sequence[str]]]:
    """The message's orders with their numbers: ``size`` recipients each, the first
    carrying the message's own ``order_id``; one order without recipients for groups."""
    chunks = [sms.recipients[i : i + size] for i in range(0, len(sms.recipients), size)] or [()]
    return [
        (SmsOrder(message=msg, index=i, **({"order_id": msg.order_id} if i == 0 else {})), chunk)
        for i, chunk in enumerate(chunks)
    ]


def _write_batch(batch: list[ValidatedSms], conf: SmsRestSettings, db: str) -> list[SmsMessage]:
    """Three ``bulk_create`` (databases without multi-row ``RETURNING``; more only where
    the database limits the parameters of one statement): messages, orders, recipients.
    The order ids are generated here, before the INSERT, like every other row of the
    outbox."""
    fields = _model_fields()
    messages = [_message_row(sms, fields) for sms in batch]
    SmsMessage.objects.using(db).bulk_create(messages)
    if any(msg.pk is None for msg in messages):  # a database without RETURNING
        ids = dict(
            SmsMessage.objects.using(db)
            .filter(order_id__in=[m.order_id for m in messages])
            .values_list("order_id", "pk")
        )
        for msg in messages:
            msg.pk = ids[msg.order_id]
    # (order, its numbers, the message's values by number: personalised messages only)
    orders: list[tuple[SmsOrder, Sequence[str], dict[str, dict[str, str]]]] = []
    for msg, sms in zip(messages, batch, strict=True):
        values = dict(zip(sms.recipients, sms.params, strict=False))
        orders += [
            (order, chunk, values)
            for order, chunk in _order_rows(msg, sms, conf.max_recipients_per_order)
        ]
    SmsOrder.objects.using(db).bulk_create([order for order, _chunk, _values in orders])
    if any(order.pk is None for order, _chunk, _values in orders):
        ids = dict(
            SmsOrder.objects.using(db)
            .filter(order_id__in=[order.order_id for order, _c, _v in orders])
            .values_list("order_id", "pk")
        )
        for order, _chunk, _values in orders:
            order.pk = ids[order.order_id]
    SmsRecipient.objects.using(db).bulk_create(
        (
            SmsRecipient(
                message_id=order.message_id,
                order=order,
                phone_number=number,
                params=values.get(number, {}),
            )
            for order, chunk, values in orders
            for number in chunk
        ),
        batch_size=BATCH_SIZE,
    )
    return messages


def _insert_batch(
    batch: list[ValidatedSms], names: list[str], conf: SmsRestSettings, db: str
) -> list[SmsMessage]:
    """:func:`_write_batch`'s rows, written by :func:`~django_smsrest.services.inserts.
    insert_rows` (where the database can take it): the same three INSERTs, the same
    values (``names``: the fields of ``ValidatedSms`` that are columns of ``SmsMessage``),
    without a model instance per order and recipient or a trip through every field of
    every row."""
    now = timezone.now()
    rows: list[dict[str, Any]] = []
    for sms in batch:
        row = {
            name: list(value) if isinstance(value := getattr(sms, name), tuple) else value
            for name in names
        }
        row["recipient_count"] = len(sms.recipients)
        row["status"] = Status.QUEUED
        row["order_id"] = new_order_id()
        rows.append(row)
    message_ids, values = insert_rows(SmsMessage, rows, db, now)
    size = conf.max_recipients_per_order
    order_rows: list[dict[str, Any]] = []
    # Per order: its numbers and the message's values by number (personalised only).
    numbers: list[tuple[Sequence[str], dict[str, dict[str, str]]]] = []
    for pk, row, sms in zip(message_ids, rows, batch, strict=True):
        recipients = sms.recipients
        by_number = dict(zip(recipients, sms.params, strict=False)) if sms.params else {}
        chunks = [recipients[i : i + size] for i in range(0, len(recipients), size)] or [()]
        for index, chunk in enumerate(chunks):
            order_id = row["order_id"] if index == 0 else new_order_id()
            order_rows.append({"message_id": pk, "index": index, "order_id": order_id})
            numbers.append((chunk, by_number))
    order_ids, _values = insert_rows(SmsOrder, order_rows, db, now)
    recipient_rows = [
        {
            "message_id": order["message_id"],
            "order_id": order_pk,
            "phone_number": number,
            "params": by_number.get(number, {}),
        }
        for order_pk, order, (chunk, by_number) in zip(order_ids, order_rows, numbers, strict=True)
        for number in chunk
    ]
    insert_rows(SmsRecipient, recipient_rows, db, now, max_rows=BATCH_SIZE)
    attnames = [f.attname for f in SmsMessage._meta.concrete_fields]
    return [SmsMessage.from_db(db, attnames, row_values) for row_values in values]


def queue_many(
    items: Iterable[tuple[Any, Any] | Mapping[str, Any]], *, batch_size: int = DEFAULT_BATCH_SIZE
) -> list[SmsMessage]:
    """Queue many SMS at once; the created messages, ``QUEUED``, in the order of ``items``.

    Each item is a ``(message, recipients)`` pair or a mapping with ``"message"``,
    ``"recipients"`` and any option of ``queue_sms`` (``sender``, ``message_type``,
    ``scheduled_delivery_time``, ``groups``, ...: :class:`~django_smsrest.validation.
    SmsOptions`), e.g. ``{"message": "Ciao", "recipients": ["+393471234567"], "sender":
    "Shop"}``. ``recipients`` takes every form ``queue_sms`` takes (numbers, one string,
    personalised maps).

    All or nothing: every item is validated first, exactly as ``queue_sms`` would, and if
    any is invalid :class:`BulkValidationError` (a ``ValidationError``) names each invalid
    item's position (``item 3: recipients: …``, the first item is 1) and nothing is
    written. Then one transaction writes the rows ``batch_size`` messages at a time, three
    multi-row INSERTs per batch (more only where the database limits one statement), each
    order id generated before the INSERT; when it commits, one
    task hint per batch (``flush_queue_task(limit=batch size)``) asks a worker to send
    what is due, and the sweeper covers a lost hint as for ``queue_sms``. With the default
    ``ImmediateBackend`` the hints send at commit, in this process, like ``queue_sms``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size!r}")
    conf = get_settings()
    checked = _validate(list(items), conf)
    db = outbox_db()
    fast = all(can_insert_rows(model, db) for model in (SmsMessage, SmsOrder, SmsRecipient))
    fields = _model_fields()
    names = [f.name for f in dataclasses.fields(ValidatedSms) if f.name in fields]
    created: list[SmsMessage] = []
    with transaction.atomic(using=db):
        for start in range(0, len(checked), batch_size):
            batch = checked[start : start + batch_size]
            if fast:
                created += _insert_batch(batch, names, conf, db)
            else:
                created += _write_batch(batch, conf, db)
            on_commit(partial(dispatch.enqueue_flush, len(batch)))
    return created
