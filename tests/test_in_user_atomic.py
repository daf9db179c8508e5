"""``in_user_atomic``: the caller's transaction counts, a test case's does not; asked with
Django's public durability rule, at no cost in SQL."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from django_smsrest.services.base import in_user_atomic


@pytest.mark.django_db
def test_a_test_cases_block_does_not_count_the_callers_does() -> None:
    with CaptureQueriesContext(connection) as ctx:
        assert not in_user_atomic()  # only the test case's own blocks are open
    assert ctx.captured_queries == []  # the probe sends nothing
    with transaction.atomic():
        assert in_user_atomic()
        with transaction.atomic():
            assert in_user_atomic()
    assert not in_user_atomic()


@pytest.mark.django_db(transaction=True)
def test_outside_any_transaction() -> None:
    assert not in_user_atomic()
    with transaction.atomic():
        assert in_user_atomic()
    assert not in_user_atomic()
