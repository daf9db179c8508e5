"""Helpers shared by the benchmark driver (``bench.py``) and its Django-side phases.

Plain Python, no Django: the driver itself never configures Django (each phase that needs
the ORM runs in its own process, so that its peak memory is its own and a phase can use
another database than the previous one).
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.request
from typing import Any

#: A phase prints exactly one line starting with this, followed by its JSON result.
RESULT_PREFIX = "BENCH-RESULT "

#: Over TLS: the environment variable holding the CA bundle that trusts the sandbox's
#: certificate (set by ``bench.py`` for its phases; ``bench.settings`` makes it
#: ``SMSREST["VERIFY_TLS"]``).
CA_BUNDLE_ENV = "SMSREST_BENCH_CA_BUNDLE"

#: The sandbox's account (``python -m django_smsrest.sandbox`` defaults).
SANDBOX_USER = "sandbox"
SANDBOX_PASSWORD = "sandbox"


def sandbox_root(base_url: str) -> str:
    """``http://127.0.0.1:PORT`` from the REST base URL ``http://127.0.0.1:PORT/API/v1.0/REST/``."""
    return base_url.split("/API/", 1)[0]


def sandbox_call(
    base_url: str,
    action: str,
    payload: dict[str, Any] | None = None,
    *,
    ca_bundle: str | None = None,
) -> Any:
    """GET (``payload`` None) or POST a JSON body to ``/_sandbox/<action>``; the JSON answer.

    Uses urllib on purpose: a fresh connection that is not counted by any client's stats
    (the sandbox counts only ``/API/...`` calls, never its control paths). Over HTTPS the
    certificate is verified against ``ca_bundle`` (default: ``$SMSREST_BENCH_CA_BUNDLE``)."""
    url = f"{sandbox_root(base_url)}/_sandbox/{action}"
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=ca_bundle or os.environ.get(CA_BUNDLE_ENV))
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="GET" if payload is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120, context=context) as response:
        return json.loads(response.read())


def sandbox_counts(base_url: str, *, ca_bundle: str | None = None) -> dict[str, Any]:
    """The sandbox counters without the (possibly long) list of orders."""
    snap = sandbox_call(base_url, "orders", ca_bundle=ca_bundle)
    return {
        "requests": snap["requests"],
        "total_requests": sum(snap["requests"].values()),
        "logins": snap["logins"] + snap.get("tokens", 0),
        "posts_total": snap["posts_total"],
        "post_counts": snap["post_counts"],
        "orders": len(snap["orders"]),
    }


def emit(result: dict[str, Any]) -> None:
    """Hand a phase's result to the driver (one line on stdout)."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def parse_result(stdout: str) -> dict[str, Any]:
    """The result a phase printed with :func:`emit`; ``ValueError`` if there is none."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise ValueError("the phase printed no result line")


def recipient(i: int) -> str:
    """A distinct valid Italian mobile number for index ``i`` < 1,000,000. It always ends in
    9, so it never hits a sandbox test suffix (0001-0008 script delivery failures)."""
    return f"+39347{i:06d}9"
