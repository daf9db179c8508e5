"""Multi-process reliability: 4 worker processes, 1,000 messages, one sandbox gateway.

Each test runs on a database of its own (see :mod:`tests.reliability`): a temporary SQLite
file on the SQLite pass, a PostgreSQL database created and dropped by the test on the
PostgreSQL pass (``SMSREST_TEST_DB=postgres``). The workers are real processes running
``send_sms --flush`` and ``send_sms --sweep`` in a loop (:mod:`tests.reliability_worker`)
against ONE sandbox process, through the REST backend.

Invariants (``assert_exactly_once``): no message lost (all SENT, every order accepted by
the gateway, the gateway holds exactly our order ids and recipients), none sent twice (no
POST of an order id after the gateway accepted it). Figures (time, HTTP calls, extra calls
caused by each fault) are printed: run with ``-s`` to see them.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_smsrest.testing import start_sandbox_process
from tests.reliability import (
    Chaos,
    RunResult,
    assert_exactly_once,
    own_database,
    run_workers,
    seed,
    using_postgres,
)

MESSAGES = 1000
WORKERS = 4

pytestmark = [pytest.mark.slow]

# Short timeouts and backoff so that a run with faults finishes in seconds. The lease is
# longer than the longest exchange one claim can make: login + POST + reconciling GET, each
# at most connect + read = 1.5 s.
FAST = {
    "TIMEOUT": [1.0, 0.5],
    "RETRY_BASE_SECONDS": 0.05,
    "RETRY_MAX_SECONDS": 0.5,
    "LEASE_SECONDS": 10,
    "MAX_RECIPIENTS_PER_ORDER": 2,  # messages with 3 recipients make 2 orders
    "STATUS_POLL_BASE_SECONDS": 3600,  # no delivery polling during the run
}

# Every fault the sandbox can inject at once, on top of random session expiry. The
# "after" faults hit orders the gateway has accepted: only a GET sms/{order_id} may follow.
ALL_FAULTS = {
    "seed": 20240611,
    "error_rate": 0.04,  # 500, nothing accepted
    "error_after_rate": 0.04,  # 500, order accepted
    "timeout_after_rate": 0.03,  # accepted, no answer for 0.7 s > read timeout 0.5 s
    "timeout_seconds": 0.7,
    "drop_after_rate": 0.03,  # accepted, connection closed unanswered
    "rate_limit_rate": 0.04,  # 429 Retry-After: 1
    "retry_after": 1,
}

# One fault at a time, to price each one (extra HTTP calls per occurrence).
SINGLE_FAULTS: dict[str, Chaos] = {
    "500 before acceptance": Chaos({"seed": 1, "error_rate": 0.1}),
    "500 after acceptance": Chaos({"seed": 2, "error_after_rate": 0.1}),
    "read timeout after acceptance": Chaos(
        {"seed": 3, "timeout_after_rate": 0.1, "timeout_seconds": 0.7}
    ),
    "dropped connection after acceptance": Chaos({"seed": 4, "drop_after_rate": 0.1}),
    "429 Retry-After": Chaos({"seed": 5, "rate_limit_rate": 0.1, "retry_after": 1}),
    "session expiry": Chaos({"seed": 6}, expire_every=0.25),
}
SINGLE_FAULT_MESSAGES = 200

# Extra HTTP calls per occurrence, by design: a maybe-sent answer costs one
# GET sms/{order_id}; a 500 before acceptance also the POST again once the GET said 404; a
# 429 costs the POST again (after Retry-After); an expired session (401) a login plus the
# POST again. The occurrences are counted from the sandbox's record of every POST answer.
FAULT_PRICE = {
    "500 before acceptance": 2,
    "500 after acceptance": 1,
    "read timeout after acceptance": 1,
    "dropped connection after acceptance": 1,
    "429 Retry-After": 1,
    "session expiry": 2,
}


def _db_kind() -> str:
    return "postgres" if using_postgres() else "sqlite"


sqlite_only = pytest.mark.skipif(
    using_postgres(), reason="SQLite run; the PostgreSQL pass runs the postgres twin"
)
postgres_only = pytest.mark.skipif(
    not using_postgres(),
    reason="needs PostgreSQL: run with SMSREST_TEST_DB=postgres (scripts/run_tests.py does)",
)


def _print_figures(
    label: str, result: RunResult, baseline: RunResult | None = None, workers: int = WORKERS
) -> None:
    requests = dict(sorted(result.requests.items()))
    line = (
        f"\n[reliability] {label}: {result.report['messages']} messages, "
        f"{len(result.report['orders'])} orders, {result.report['recipients']} recipients, "
        f"{workers} workers, {result.seconds:.1f} s, {result.total_requests} HTTP calls "
        f"{requests}"
    )
    if baseline is not None:
        extra = result.requests.copy()
        extra.subtract(baseline.requests)
        line += (
            f"; extra vs no faults: {result.total_requests - baseline.total_requests} "
            f"{dict(sorted((k, v) for k, v in extra.items() if v))}"
        )
    if result.expired_sessions:
        line += f"; sessions expired {result.expired_sessions} times"
    print(line)


def _run(
    kind: str, messages: int, chaos: Chaos | None = None, *, concurrency: int = 1
) -> RunResult:
    smsrest = {**FAST, "CONCURRENCY": concurrency}
    with own_database(kind) as db, start_sandbox_process(seed=7) as sandbox:
        seeded = seed(db, messages, smsrest)
        assert seeded["statuses"] == {"queued": messages}
        return run_workers(db, sandbox, workers=WORKERS, smsrest=smsrest, chaos=chaos)


def _no_faults_then_all_faults(kind: str, concurrency: int) -> None:
    kind_label = f"{kind}, CONCURRENCY {concurrency}"
    baseline = _run(kind, MESSAGES, concurrency=concurrency)
    answers = assert_exactly_once(baseline, messages=MESSAGES, faulted=False)
    _print_figures(f"{kind_label}, no faults", baseline)
    # The baseline costs exactly one POST per order plus a login per worker (re-logins
    # only when a session idles out, which it cannot in a run this short).
    assert baseline.requests["POST sms"] == answers["201"]
    assert baseline.requests["GET login"] == WORKERS
    assert baseline.requests["GET sms/{order_id}"] == 0

    faulted = _run(
        kind, MESSAGES, Chaos(dict(ALL_FAULTS), expire_every=0.5), concurrency=concurrency
    )
    answers = assert_exactly_once(faulted, messages=MESSAGES, faulted=True)
    _print_figures(f"{kind_label}, all faults", faulted, baseline)
    print(f"[reliability] {kind_label}, all faults: POST answers {answers}")
    # Every kind of fault really happened.
    for kind_seen in ("429", "500 before acceptance", "500 after acceptance", "timeout", "drop"):
        assert answers.get(kind_seen, 0) > 0, (kind_seen, answers)
    assert faulted.requests["GET login"] > WORKERS  # session expiry forced re-logins
    # Each maybe-sent outcome (5xx, timeout, drop) is settled by one GET sms/{order_id}
    # before anything else; nothing else issues a GET during the run.
    maybe_sent = sum(
        answers.get(k, 0)
        for k in ("500 before acceptance", "500 after acceptance", "timeout", "drop")
    )
    reconciling_gets = faulted.requests["GET sms/{order_id}"]
    assert maybe_sent <= reconciling_gets
    # A GET can be repeated after a session expiry (401, re-login, repeat): bounded.
    assert reconciling_gets <= maybe_sent + faulted.requests["GET login"]


# CONCURRENCY 1: the sequential flush; 8: the batch flush (batched claims, 8 POSTs in
# flight per worker process, batched result writes).
BOTH_PATHS = pytest.mark.parametrize("concurrency", [1, 8])


@sqlite_only
@BOTH_PATHS
def test_four_workers_sqlite_no_duplicates_no_losses_with_and_without_faults(
    concurrency: int,
) -> None:
    _no_faults_then_all_faults("sqlite", concurrency)


@pytest.mark.postgres
@postgres_only
@BOTH_PATHS
def test_four_workers_postgres_no_duplicates_no_losses_with_and_without_faults(
    concurrency: int,
) -> None:
    _no_faults_then_all_faults("postgres", concurrency)


@sqlite_only
def test_price_of_each_fault_type() -> None:
    """One fault type per run (200 messages each): how many extra HTTP calls each costs,
    and the same invariants. SQLite only: the figures do not depend on the database.
    CONCURRENCY 1: with K requests in flight one expired session costs one login for the
    K requests it refused, so the exact price per occurrence is the sequential one."""
    baseline = _run("sqlite", SINGLE_FAULT_MESSAGES)
    assert_exactly_once(baseline, messages=SINGLE_FAULT_MESSAGES, faulted=False)
    _print_figures("sqlite, no faults", baseline)
    table: list[tuple[str, int, int, dict[str, Any]]] = []
    for label, chaos in SINGLE_FAULTS.items():
        result = _run("sqlite", SINGLE_FAULT_MESSAGES, chaos)
        answers = assert_exactly_once(result, messages=SINGLE_FAULT_MESSAGES, faulted=True)
        _print_figures(f"sqlite, {label}", result, baseline)
        extra = result.total_requests - baseline.total_requests
        occurrences = sum(v for k, v in answers.items() if k != "201")
        table.append((label, occurrences, extra, answers))
        assert extra > 0, label  # the fault really struck
        if label == "session expiry":
            assert result.requests["GET login"] > WORKERS
        assert occurrences > 0, (label, answers)
        # The exact price of one occurrence: no retry storm, no blind re-POST.
        assert extra == FAULT_PRICE[label] * occurrences, (label, extra, occurrences)
    print("\n[reliability] fault price (200 messages, 4 workers):")
    for label, occurrences, extra, _answers in table:
        per = f"{extra / occurrences:.2f}" if occurrences else "-"
        print(f"  {label:40s} occurrences {occurrences:4d}  extra calls {extra:4d}  per {per}")


@pytest.mark.postgres
@postgres_only
def test_eight_processes_times_concurrency_8_at_40_ms_postgres() -> None:
    """Scale out and in at once: 8 worker processes, each with 8 requests in flight (64
    against the gateway), a gateway 40 ms away, 600 messages on PostgreSQL (batched
    claims with SKIP LOCKED racing each other): every order POSTed exactly once, at most
    one login per process."""
    messages, workers = 600, 8
    smsrest = {**FAST, "MAX_RECIPIENTS_PER_ORDER": 1000, "CONCURRENCY": 8}
    with own_database("postgres") as db, start_sandbox_process(seed=7, latency=40) as sandbox:
        seeded = seed(db, messages, smsrest)
        assert seeded["statuses"] == {"queued": messages}
        result = run_workers(db, sandbox, workers=workers, smsrest=smsrest)
    answers = assert_exactly_once(result, messages=messages, faulted=False)
    _print_figures("postgres, CONCURRENCY 8, 40 ms", result, workers=workers)
    assert result.requests["POST sms"] == answers["201"] == messages
    assert 1 <= result.requests["GET login"] <= workers
    assert result.requests["GET sms/{order_id}"] == 0
