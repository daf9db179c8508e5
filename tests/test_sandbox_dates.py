"""Every documented date format of ``scheduled_delivery_time`` is read (issue 14, item 2).

Table-driven, over a real socket: each value is sent as the scheduled time of an order and
the time the sandbox stored (shown in Europe/Rome, the default zone for naive values) is
compared with the expected one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.test_sandbox_helpers import Api

# (format, value, expected time in Europe/Rome, UTC+01:00 in December)
CASES = [
    ("ddMMyy", "021230", "2030-12-02T00:00:00+01:00"),
    ("yyyyMMdd", "20301202", "2030-12-02T00:00:00+01:00"),
    ("ddMMyyHHmm", "0212302127", "2030-12-02T21:27:00+01:00"),
    ("yyyyMMddHHmm", "203012022127", "2030-12-02T21:27:00+01:00"),
    ("yyyyMMddHHmmss", "20301202212702", "2030-12-02T21:27:02+01:00"),
    ("yyyy-MM-dd HH:mm", "2030-12-02 21:27", "2030-12-02T21:27:00+01:00"),
    ("yyyy-MM-dd HH:mm.0", "2030-12-02 21:27.0", "2030-12-02T21:27:00+01:00"),
    ("yyyy-MM-dd HH:mm:ss", "2030-12-02 21:27:02", "2030-12-02T21:27:02+01:00"),
    ("ISO 8601 naive", "2030-12-02T21:27:02", "2030-12-02T21:27:02+01:00"),
    ("ISO 8601 +01:00", "2030-12-02T21:27:02+01:00", "2030-12-02T21:27:02+01:00"),
    ("ISO 8601 -05:00", "2030-12-02T21:27:02-05:00", "2030-12-03T03:27:02+01:00"),
    ("ISO 8601 micro", "2030-12-02T21:27:02.123456", "2030-12-02T21:27:02.123456+01:00"),
    ("ISO 8601 ms Z", "2030-12-02T21:27:02.000Z", "2030-12-02T22:27:02+01:00"),
    ("Gson JDK 9+", "Dec 2, 2030, 9:27:02 PM", "2030-12-02T21:27:02+01:00"),
    ("Gson JDK 20+ NNBSP", "Dec 2, 2030, 9:27:02\u202fPM", "2030-12-02T21:27:02+01:00"),
    ("Gson JDK 8", "Dec 2, 2030 9:27:02 PM", "2030-12-02T21:27:02+01:00"),
    ("Gson AM", "Dec 12, 2030, 9:27:02 AM", "2030-12-12T09:27:02+01:00"),
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(step=10.0) as server:
        yield server


@pytest.mark.parametrize(("value", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_documented_date_format_is_read(
    sandbox: SandboxServer, value: str, expected: str
) -> None:
    response = Api(sandbox).send(scheduled_delivery_time=value)

    assert response.status_code == 201, response.text
    order = sandbox.order(response.json()["order_id"])
    assert order is not None
    assert order["scheduled_delivery_time"] == expected
    assert [s["status"] for s in order["states"]] == ["SCHEDULED"]


@pytest.mark.parametrize(
    "value", ["Dec 2 2030 9:27:02 PM", "12/02/2030", "0212302", "Foo 2, 2030"]
)
def test_other_shapes_are_refused(sandbox: SandboxServer, value: str) -> None:
    response = Api(sandbox).send(scheduled_delivery_time=value)

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_DATE"
