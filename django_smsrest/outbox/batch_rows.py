"""The rows of a batch flush (:mod:`django_smsrest.outbox.batch`): loading a claimed batch
with a constant number of queries, and writing its results with a constant number of
statements, every message write guarded by the flush's claim token.

Query budget for a batch of B single-order messages (the common case): the claim (one
UPDATE, :func:`~django_smsrest.outbox.claims.claim_batch`), the orders joined to their
messages (one SELECT), the recipients (one SELECT), and for the accepted ones the orders
(one UPDATE) and the messages (one UPDATE) in one short transaction. About 5 statements
per B messages instead of 5 per message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Expression, F, Field, Model, Value
from django.utils import timezone

from django_smsrest import lifecycle
from django_smsrest.backends import BaseBackend
from django_smsrest.conf import SmsRestSettings
from django_smsrest.models import Kind, OrderStatus, SmsMessage, SmsOrder, SmsRecipient, Status
from django_smsrest.outbox import reports
from django_smsrest.outbox.claimed import ClaimedMessage
from django_smsrest.outbox.claims import LostClaim, outbox_db
from django_smsrest.outbox.decide import sent_fields
from django_smsrest.outbox.job import Job
from django_smsrest.results import SendResult


@dataclass
class Post:
    """One order of a claimed single-order message, ready to be POSTed by a pool thread."""

    job: Job
    order: SmsOrder
    numbers: tuple[str, ...]

    @property
    def pk(self) -> int:
        return int(self.job.msg.pk)


def load_batch(
    token: str,
    after: int,
    claimed: int,
    conf: SmsRestSettings,
    *,
    backend: BaseBackend | None = None,
) -> tuple[list[Post | Job], int]:
    """The messages just claimed with ``token`` (primary keys above ``after``), in pk
    order, and the highest of those keys.

    A message with one pending order and nothing accepted yet (the common case) comes as a
    :class:`Post` ready for the pool; any other (several orders, an order accepted by an
    earlier attempt, no order at all) as a :class:`Job` that the flush runs the sequential
    way (:meth:`Job.run`), which knows every corner of a partly sent message.

    Two queries: the orders joined to their messages, then the recipients of the pending
    ones; a third only when some claimed message has no order (never for rows the
    services created)."""
    orders = list(
        SmsOrder.objects.filter(
            message__claim_token=token, message__status=Status.SENDING, message_id__gt=after
        )
        .select_related("message")
        .order_by("message_id", "index")
    )
    by_message: dict[int, list[SmsOrder]] = {}
    for order in orders:
        by_message.setdefault(order.message_id, []).append(order)
    messages = {pk: group[0].message for pk, group in by_message.items()}
    if len(messages) < claimed:
        for msg in SmsMessage.objects.filter(claim_token=token, pk__gt=after).exclude(
            pk__in=list(messages)
        ):
            messages[msg.pk] = msg
    fast = {
        pk: group[0]
        for pk, group in by_message.items()
        if len(group) == 1
        and group[0].status == OrderStatus.PENDING
        and messages[pk].total_sent is None
    }
    # A Post's job never reads its orders again; any other job reads them once, in
    # pending_orders(), without a query.
    jobs = {
        pk: Job(
            ClaimedMessage(
                msg,
                token,
                conf,
                backend=backend,
                orders=None if pk in fast else by_message.get(pk),
            )
        )
        for pk, msg in messages.items()
    }
    numbers: dict[int, list[str]] = {order.pk: [] for order in fast.values()}
    # Kind.PARAMS: each recipient's placeholder values, loaded in the same query and kept
    # on the job as ClaimedMessage.pending_orders() keeps them (outgoing() reads them).
    # Kind.GROUPS: one order without recipient rows (outgoing() reads msg.groups).
    personalised = {
        order.pk: jobs[pk] for pk, order in fast.items() if jobs[pk].msg.kind == Kind.PARAMS
    }
    if numbers:
        fields = ("order_id", "phone_number", *(("params",) if personalised else ()))
        rows = SmsRecipient.objects.filter(order_id__in=list(numbers)).order_by("id")
        for order_pk, number, *values in rows.values_list(*fields):
            numbers[order_pk].append(number)
            if order_pk in personalised:
                personalised[order_pk].claim.params[number] = values[0]
    items: list[Post | Job] = []
    for pk in sorted(jobs):
        if pk in fast:
            order = fast[pk]
            items.append(Post(jobs[pk], order, tuple(numbers[order.pk])))
        else:
            items.append(jobs[pk])
    return items, max(jobs, default=after)


class _ByPk(Expression):
    """``CASE pk WHEN 1 THEN v1 WHEN 2 THEN v2 ... ELSE column END``, compiled straight to
    SQL. Django's own ``Case(When(pk=1, then=...))`` (what ``bulk_update`` builds) resolves
    a whole filter per row: profiled at 2 s of a 3.3 s zero-latency flush of 600
    messages, more than the HTTP. Values go through the field's ``get_db_prep_save`` and
    are bound as parameters; on PostgreSQL each is cast to the column's type (a CASE of
    untyped literals would be text)."""

    def __init__(self, model: type[Model], name: str, values: dict[int, Any]) -> None:
        target = model._meta.get_field(name)
        assert isinstance(target, Field)
        super().__init__(output_field=target)
        self.target: Field[Any, Any] = target
        self.values = values
        self.pk_column = str(model._meta.pk.column)

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        quote = connection.ops.quote_name
        target = self.target
        then = "%s"
        if connection.vendor == "postgresql":
            then = f"CAST(%s AS {target.cast_db_type(connection)})"
        whens: list[str] = []
        params: list[Any] = []
        for pk, value in self.values.items():
            whens.append(f"WHEN %s THEN {then}")
            params += [pk, target.get_db_prep_save(value, connection)]
        column = quote(target.column)
        return f"CASE {quote(self.pk_column)} {' '.join(whens)} ELSE {column} END", params


def _case(model: type[Model], name: str, values: dict[int, Any]) -> Any:
    """One value for every row (a plain ``Value``), or a :class:`_ByPk` CASE."""
    distinct = set(values.values())
    if len(distinct) == 1:
        target = model._meta.get_field(name)
        assert isinstance(target, Field)
        return Value(distinct.pop(), output_field=target)
    return _ByPk(model, name, values)


def write_accepted(
    token: str, accepted: Iterable[tuple[Post, SendResult]], conf: SmsRestSettings
) -> set[int]:
    """Record orders the gateway accepted and end their messages as
    :meth:`Outcomes.succeed` does for one (the same decision, :func:`~django_smsrest.
    outbox.outcomes.sent_fields`, and the same aggregates, :meth:`ClaimedMessage.
    note_accepted`), in two UPDATEs in one transaction whatever the number of messages.
    Mirrors the written fields on each ``post.job.msg``.

    The order UPDATE is not guarded by the token (an accepted order is a fact whoever
    holds the claim, see :meth:`ClaimedMessage.accept`); the message UPDATE is. Returns the
    pks of the messages whose claim was lost meanwhile (taken over after the lease
    expired): their orders are recorded, their rows are left to the new claimant."""
    items = list(accepted)
    if not items:
        return set()
    now = timezone.now()
    order_ids: dict[int, Any] = {}
    order_sent: dict[int, Any] = {}
    order_credits: dict[int, Any] = {}
    written: dict[int, dict[str, Any]] = {}
    for post, result in items:
        job, order = post.job, post.order
        order_ids[order.pk] = result.internal_order_id or ""
        order_sent[order.pk] = result.total_sent
        order_credits[order.pk] = result.remaining_credits
        job.claim.note_accepted(result, now)
        fields = {**sent_fields(job.msg, conf, now), **job.claim.aggregates(), "updated_at": now}
        lifecycle.check_transition(job.msg.status, fields["status"])
        written[post.pk] = fields
    pks = list(written)
    # Every message gets the same columns: one CASE per column that differs by row.
    columns = {name: {pk: row[name] for pk, row in written.items()} for name in written[pks[0]]}
    with transaction.atomic(using=outbox_db()):
        SmsOrder.objects.filter(pk__in=list(order_ids), status=OrderStatus.PENDING).update(
            status=OrderStatus.ACCEPTED,
            accepted_at=now,
            internal_order_id=_case(SmsOrder, "internal_order_id", order_ids),
            total_sent=_case(SmsOrder, "total_sent", order_sent),
            remaining_credits=_case(SmsOrder, "remaining_credits", order_credits),
        )
        # On condition that no delivery report is held (see outbox.reports): those are
        # released one by one below, applying their reports.
        done = SmsMessage.objects.filter(
            reports.none_held(), pk__in=pks, claim_token=token
        ).update(**{name: _case(SmsMessage, name, values) for name, values in columns.items()})
        lost: set[int] = set()
        held: set[int] = set()
        if done < len(pks):
            # Rare: some rows were taken over, or have a report held. Ours are the ones
            # this UPDATE just wrote (same transaction, so they read back as written;
            # ``updated_at`` is this write's own timestamp), or still carry our token.
            rows = SmsMessage.objects.filter(pk__in=pks).values_list("pk", "claim_token")
            written_now = set(
                SmsMessage.objects.filter(
                    pk__in=pks,
                    claim_token="",
                    updated_at=now,
                    status__in=set(columns["status"].values()),
                ).values_list("pk", flat=True)
            )
            held = {pk for pk, claim_token in rows if claim_token == token}
            lost = set(pks) - written_now - held
    for post, _result in items:
        if post.pk in held:
            fields = dict(written[post.pk])
            del fields["updated_at"]
            try:
                post.job.claim.write(**fields)  # applies the held reports, then releases
            except LostClaim:
                lost.add(post.pk)
        elif post.pk not in lost:
            post.job.claim.mirror(**written[post.pk])
    return lost


def renew_leases(token: str, posts: list[Post], until: datetime) -> set[int]:
    """Extend the lease of ``posts`` (one guarded UPDATE); the pks still ours. A row not
    ours any more was taken over after our lease expired (a stalled flush): it must not
    be POSTed by us."""
    pks = [post.pk for post in posts]
    done = SmsMessage.objects.filter(pk__in=pks, claim_token=token).update(
        lease_until=until, updated_at=timezone.now()
    )
    ours = set(pks)
    if done < len(pks):
        ours = set(
            SmsMessage.objects.filter(pk__in=pks, claim_token=token).values_list("pk", flat=True)
        )
    for post in posts:
        if post.pk in ours:
            post.job.msg.lease_until = until
    return ours


def release_untouched(token: str, pks: list[int]) -> int:
    """Put claimed messages that were never POSTed back in the queue as if this flush had
    not claimed them: QUEUED, the attempt the claim counted given back, ``next_attempt_at``
    and ``last_error`` unchanged. One guarded UPDATE."""
    if not pks:
        return 0
    lifecycle.check_transition(Status.SENDING, Status.QUEUED)
    return SmsMessage.objects.filter(pk__in=pks, claim_token=token, status=Status.SENDING).update(
        status=Status.QUEUED,
        attempts=F("attempts") - 1,
        claim_token="",
        lease_until=None,
        updated_at=timezone.now(),
    )
