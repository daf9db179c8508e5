"""Test helpers for projects that use django-smsrest.

Register the pytest fixtures with ``pytest_plugins = ["django_smsrest.testing"]`` in your
``conftest.py``. Two kinds of helpers:

* the locmem outbox (:mod:`django_smsrest.testing.outbox`): with
  ``SMSREST["BACKEND"] = "django_smsrest.backends.locmem.LocmemBackend"`` nothing leaves the
  process; ``assert_sms_sent(to=..., text_contains=...)`` and the ``sms_outbox`` fixture;
* the sandbox gateway (:mod:`django_smsrest.testing.sandbox`): a real HTTP server on a
  loopback port speaking the gateway's API, for end-to-end tests through the REST backend
  (``smsrest_sandbox``, ``smsrest_sandbox_settings`` fixtures).
"""

# The outbox list itself is django_smsrest.testing.outbox.outbox (not re-exported here, so
# that the name keeps meaning the submodule).
from django_smsrest.testing.outbox import assert_sms_sent, clear_outbox, sms_outbox
from django_smsrest.testing.sandbox import (
    TEST_NUMBERS,
    SandboxProcess,
    SandboxServer,
    make_self_signed_cert,
    run_sandbox,
    smsrest_sandbox,
    smsrest_sandbox_factory,
    smsrest_sandbox_settings,
    start_sandbox_process,
    tls_unavailable_reason,
)
from django_smsrest.testing.tasks import no_task_worker

__all__ = [
    "TEST_NUMBERS",
    "SandboxProcess",
    "SandboxServer",
    "assert_sms_sent",
    "clear_outbox",
    "make_self_signed_cert",
    "no_task_worker",
    "run_sandbox",
    "sms_outbox",
    "smsrest_sandbox",
    "smsrest_sandbox_factory",
    "smsrest_sandbox_settings",
    "start_sandbox_process",
    "tls_unavailable_reason",
]
