"""``GET status`` lists one brand's message types and money on request (issue 14, item 4)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_smsrest.testing.sandbox import SandboxServer, run_sandbox
from tests.test_sandbox_helpers import Api


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(money=12.34) as server:
        yield server


@pytest.mark.parametrize(
    ("brand", "codes"),
    [
        (None, ["N", "L", "LL"]),
        ("smsend", ["N", "L", "LL"]),
        ("mobyt", ["N", "L", "LL"]),
        ("skebby", ["GP", "TI", "SI"]),
    ],
)
def test_type_aliases_list_only_the_configured_brand(
    sandbox: SandboxServer, brand: str | None, codes: list[str]
) -> None:
    sandbox.configure(brand=brand)
    api = Api(sandbox)
    api.send(message_type=codes[0])

    body = api.get("status", params={"typeAliases": "true", "getMoney": "true"}).json()

    assert [item["type"] for item in body["sms"]] == codes
    assert body["sms"][0]["quantity"] == 100_000 - 1
    assert body["money"] == 12.34


def test_without_type_aliases_the_internal_ids_are_listed_for_skebby(
    sandbox: SandboxServer,
) -> None:
    sandbox.configure(brand="skebby")

    body = Api(sandbox).get("status").json()

    assert [item["type"] for item in body["sms"]] == ["N", "L", "LL"]


@pytest.mark.parametrize("get_money", [None, "false", "False"])
def test_money_only_with_get_money_true(sandbox: SandboxServer, get_money: str | None) -> None:
    params = {"typeAliases": "true"}
    if get_money is not None:
        params["getMoney"] = get_money

    body = Api(sandbox).get("status", params=params).json()

    assert body["money"] is None
    assert [item["type"] for item in body["sms"]] == ["N", "L", "LL"]
