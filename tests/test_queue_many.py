"""``queue_many`` (issue 20 item 8): every item validated first (all or nothing, errors
named by position), rows written with ``bulk_create`` a batch at a time (a constant number
of queries per batch), one task hint per batch, the created messages returned in order,
and the same rows ``queue_sms`` would have written. Its speed against ``queue_sms`` is
shown by ``bench/bulk.py``, never asserted here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_smsrest import dispatch, queue_many, services
from django_smsrest.backends import locmem
from django_smsrest.models import Kind, SmsMessage, SmsOrder, SmsRecipient, Status
from django_smsrest.outbox import outbox_db
from django_smsrest.services import bulk as bulk_module
from django_smsrest.services.bulk import BulkValidationError
from django_smsrest.services.inserts import can_insert_rows
from tests.settings import SMSREST

pytestmark = pytest.mark.django_db

ADA, BOB, CARLA = "+393471234567", "+393471234568", "+393471234569"


@pytest.fixture(autouse=True)
def _locmem() -> Iterator[None]:
    locmem.reset()
    yield
    locmem.reset()


def _number(i: int) -> str:
    return f"+39347{i:06d}9"


def test_pairs_and_mappings_return_the_messages_in_order(
    django_capture_on_commit_callbacks: Any,
) -> None:
    when = timezone.now() + timedelta(days=1)
    with django_capture_on_commit_callbacks() as hints:
        created = queue_many(
            [
                ("Primo", [ADA]),
                {"message": "Secondo", "recipients": f"{BOB}, {CARLA}", "sender": "Shop"},
                {"message": "Terzo", "recipients": [ADA], "scheduled_delivery_time": when},
                {"message": "Ciao ${name}", "recipients": [{"recipient": BOB, "name": "Bob"}]},
                {"message": "A tutti", "groups": ["clienti"]},
            ]
        )
    assert [m.message for m in created] == ["Primo", "Secondo", "Terzo", "Ciao ${name}", "A tutti"]
    assert all(m.pk and m.status == Status.QUEUED for m in created)
    stored = list(SmsMessage.objects.order_by("pk"))
    assert [m.pk for m in stored] == [m.pk for m in created]
    assert stored[1].sender == "Shop" and stored[1].recipient_count == 2
    assert stored[2].scheduled_delivery_time == when
    assert stored[3].kind == Kind.PARAMS
    assert SmsRecipient.objects.get(message=stored[3]).params == {"name": "Bob"}
    assert stored[4].kind == Kind.GROUPS and stored[4].groups == ["clienti"]
    assert len(hints) == 1  # one batch, one hint


def _rows(message: SmsMessage) -> dict[str, Any]:
    """What a message is, without what differs between two rows of the same input (keys,
    order ids, times)."""
    skip = {"id", "order_id", "created_at", "updated_at"}
    values = SmsMessage.objects.filter(pk=message.pk).values()[0]
    return {
        "message": {k: v for k, v in values.items() if k not in skip},
        "orders": list(
            SmsOrder.objects.filter(message=message)
            .order_by("index")
            .values_list("index", "status", "internal_order_id")
        ),
        "first_order_is_the_message's": SmsOrder.objects.get(message=message, index=0).order_id
        == message.order_id,
        "recipients": list(
            SmsRecipient.objects.filter(message=message)
            .order_by("id")
            .values_list("order__index", "phone_number", "params", "state")
        ),
    }


@pytest.fixture(params=["insert_rows", "bulk_create"])
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a batch is written: ``insert_rows`` (databases with multi-row
    ``INSERT ... RETURNING``: SQLite 3.35+, PostgreSQL) and ``bulk_create`` (the others)."""
    if request.param == "bulk_create":
        monkeypatch.setattr(bulk_module, "can_insert_rows", lambda model, db: False)
    return str(request.param)


@override_settings(SMSREST={**SMSREST, "MAX_RECIPIENTS_PER_ORDER": 2})
def test_the_same_rows_as_queue_sms(monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    """Each kind of message, several orders each: what queue_many stores is what
    queue_sms stores (so a send option stored by queue_sms is stored here too)."""
    monkeypatch.setattr(dispatch, "enqueue_send", lambda *a, **k: None)
    monkeypatch.setattr(dispatch, "enqueue_flush", lambda *a, **k: None)
    when = timezone.now() + timedelta(hours=3)
    cases: list[dict[str, Any]] = [
        {"message": "Ciao", "recipients": [_number(i) for i in range(5)], "sender": "Shop"},
        {"message": "Più tardi", "recipients": ADA, "scheduled_delivery_time": when},
        {
            "message": "Ciao ${name}",
            "recipients": [{"recipient": _number(i), "name": f"N{i}"} for i in range(3)],
            "message_type": "N",
        },
        {"message": "A tutti", "groups": ["clienti", "fornitori"]},
    ]
    singles = [services.queue_sms(**case) for case in cases]
    many = queue_many(cases)
    for one, bulk in zip(singles, many, strict=True):
        assert _rows(bulk) == _rows(one)


def test_nothing_is_written_if_one_item_is_invalid() -> None:
    items = [
        ("Buongiorno", [ADA]),
        ("Buongiorno", [BOB]),
        ("Buongiorno", ["12"]),
        {"message": "", "recipients": [CARLA], "priorty": 1},
        "Buongiorno",
        {"recipients": [ADA]},
    ]
    with pytest.raises(BulkValidationError) as info:
        queue_many(items)
    error = info.value
    assert isinstance(error, ValidationError)
    assert sorted(error.by_item) == [3, 4, 5, 6]
    lines = error.messages
    assert lines[0] == "item 3: recipients: “12” is not a valid phone number."
    assert lines[1].startswith("item 4: unknown option(s) priorty; an item may have message,")
    assert lines[2].startswith("item 5: 'Buongiorno' is neither a (message, recipients) pair")
    assert lines[3] == "item 6: the item has no “message”."
    assert not SmsMessage.objects.exists() and not SmsOrder.objects.exists()
    # Each item's own error is what queue_sms raises for it.
    with pytest.raises(ValidationError) as single:
        services.queue_sms("Buongiorno", ["12"])
    assert error.by_item[3].message_dict == single.value.message_dict


def test_many_invalid_items_are_summed_up() -> None:
    with pytest.raises(BulkValidationError) as info:
        queue_many([("", [ADA])] * 25)
    assert len(info.value.by_item) == 25
    assert info.value.messages[-1] == "… and 5 more invalid items."
    assert info.value.messages[19].startswith("item 20: message: The message is empty.")


def test_queries_and_hints_per_batch_are_constant(
    django_capture_on_commit_callbacks: Any, writer: str
) -> None:
    """30 messages in batches of 10: three INSERTs per batch (messages, orders, recipients)
    and nothing else but the transaction, and one hint per batch; the hints send them."""
    items = [(f"Codice {i}", [_number(i)]) for i in range(30)]
    connection = connections[outbox_db()]
    with django_capture_on_commit_callbacks() as hints, CaptureQueriesContext(connection) as q:
        created = queue_many(items, batch_size=10)
    statements = [s["sql"].split(None, 1)[0].upper() for s in q.captured_queries]
    writes = [s for s in statements if s not in ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT")]
    assert writes == ["INSERT"] * 9, statements
    inserts = [s["sql"] for s in q.captured_queries if s["sql"].startswith("INSERT")]
    tables = [sql.split(None, 3)[2].strip('"') for sql in inserts]
    per_batch = ["django_smsrest_smsmessage", "django_smsrest_smsorder"]
    assert tables == [*per_batch, "django_smsrest_smsrecipient"] * 3
    assert len(hints) == 3
    # Running the hints (the ImmediateBackend of the tests) sends every message once.
    for hint in hints:
        hint()
    assert len(locmem.outbox) == 30
    statuses = set(SmsMessage.objects.filter(pk__in=[m.pk for m in created]).values_list("status"))
    assert statuses == {(Status.SENT,)}


def test_each_hint_is_a_flush_of_its_batch(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    limits: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_flush", limits.append)
    with django_capture_on_commit_callbacks(execute=True):
        queue_many([(f"Codice {i}", [_number(i)]) for i in range(25)], batch_size=10)
    assert limits == [10, 10, 5]


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        queue_many([("Ciao", [ADA])], batch_size=0)


def _stored(message: SmsMessage) -> dict[str, Any]:
    return {f.attname: getattr(message, f.attname) for f in SmsMessage._meta.concrete_fields}


def test_the_returned_messages_are_the_stored_rows(writer: str) -> None:
    """Every field of each returned message is what its row holds (its key, its order id,
    its times, the defaults), the instance is saved (not ``adding``), and no two share a
    mutable default."""
    when = timezone.now() + timedelta(hours=1)
    created = queue_many(
        [
            ("Primo", [ADA]),
            {"message": "Secondo", "recipients": [BOB], "sender": "Shop", "purpose": "marketing"},
            {"message": "Terzo", "recipients": [CARLA], "scheduled_delivery_time": when},
            {"message": "A tutti", "groups": ["clienti"]},
        ]
    )
    for message in created:
        assert _stored(message) == _stored(SmsMessage.objects.get(pk=message.pk))
        assert not message._state.adding and message._state.db == outbox_db()
    assert created[0].overridden_to is not created[1].overridden_to
    created[0].save()  # an UPDATE of the row, not a second INSERT
    assert SmsMessage.objects.count() == 4


def test_rows_split_by_the_database_stay_in_order(writer: str) -> None:
    """One batch larger than one statement can carry where the database limits the
    parameters (SQLite: 999, about 29 messages): each returned message is its own row and
    the recipients are each message's own."""
    items = [(f"Codice {i}", [_number(i)]) for i in range(70)]
    created = queue_many(items, batch_size=70)
    assert [m.message for m in created] == [text for text, _numbers in items]
    stored = dict(SmsMessage.objects.values_list("pk", "message"))
    assert [stored[m.pk] for m in created] == [m.message for m in created]
    numbers = dict(SmsRecipient.objects.values_list("message_id", "phone_number"))
    assert [numbers[m.pk] for m in created] == [n[0] for _text, n in items]
    orders = SmsOrder.objects.filter(index=0).values_list("message_id", "order_id")
    assert dict(orders) == {m.pk: m.order_id for m in created}


def test_a_repeated_number_or_text_gets_the_same_errors_each_time() -> None:
    """Numbers and texts repeated across items are checked once per call, and every item
    still gets its own error, the one ``queue_sms`` raises for it."""
    long_text = "x" * 2000
    items = [("Ciao", ["12"]), ("Ciao", [ADA]), ("Ciao", ["12"]), (long_text, [ADA])] * 2
    with pytest.raises(BulkValidationError) as info:
        queue_many(items)
    assert sorted(info.value.by_item) == [1, 3, 4, 5, 7, 8]
    with pytest.raises(ValidationError) as bad_number:
        services.queue_sms("Ciao", ["12"])
    with pytest.raises(ValidationError) as too_long:
        services.queue_sms(long_text, [ADA])
    for position in (1, 3, 5, 7):
        assert info.value.by_item[position].message_dict == bad_number.value.message_dict
    for position in (4, 8):
        assert info.value.by_item[position].message_dict == too_long.value.message_dict
    assert not SmsMessage.objects.exists()


def test_the_test_databases_take_insert_rows() -> None:
    """SQLite 3.35+ and PostgreSQL return many rows from one INSERT: queue_many's own
    statements are the ones these tests check, not only the bulk_create fallback."""
    assert all(
        can_insert_rows(model, outbox_db()) for model in (SmsMessage, SmsOrder, SmsRecipient)
    )


def test_at_most_500_recipients_per_statement() -> None:
    """600 recipients of one message: two INSERTs of recipients (500 and 100), all stored
    (SQLite too: its library takes far more than Django's 999 parameters)."""
    numbers = [_number(i) for i in range(600)]
    connection = connections[outbox_db()]
    with CaptureQueriesContext(connection) as q:
        (created,) = queue_many([("A tutti", numbers)])
    inserts = [s["sql"] for s in q.captured_queries if s["sql"].startswith("INSERT")]
    assert sum('"django_smsrest_smsrecipient"' in sql.split("(", 1)[0] for sql in inserts) == 2
    stored = SmsRecipient.objects.filter(message=created).values_list("phone_number", flat=True)
    assert sorted(stored) == sorted(numbers)
