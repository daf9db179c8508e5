"""A local sandbox of the smSend / Skebby "SMS REST API v1.0", for development and tests.

Runs without a Django project (it imports only the app's plain-Python modules)::

    python -m django_smsrest.sandbox --port 8765      # prints http://127.0.0.1:8765/API/v1.0/REST/

and in tests through :mod:`django_smsrest.testing` (``run_sandbox()``, the
``smsrest_sandbox`` fixture). Account: ``sandbox`` / ``sandbox`` unless configured.

HTTPS like the real gateway: ``--tls-cert CERT.pem --tls-key KEY.pem`` (or
``run_sandbox(tls=True)`` / ``start_sandbox_process(tls=True)``, which make a throwaway
self-signed certificate; clients verify it against the handle's ``ca_bundle``).

API (under ``/API/v1.0/REST/``): ``GET login`` and ``GET token`` (query or HTTP Basic;
404 on wrong credentials), ``GET checksession``, ``POST sms`` (201), ``POST paramsms`` and
``POST smstogroups`` (200 on smSend, 201 on Skebby), ``GET sms/{order_id}``,
``DELETE sms/{order_id}`` (only while SCHEDULED), ``GET status``, ``GET smshistory``,
``GET newsrsmsmessage`` and ``GET srsmshistory`` (received SMS).
Authenticated calls take ``user_key`` plus ``Session_key`` (idles out after
``session_idle`` seconds, renewed by every call) or ``Access_token`` (never expires); an
unknown ``user_key`` is a 404 "user_key not found", a bad key with the right user key a 401.
Refusals are ``{"result": "KO", "error_message": "...", "code": "..."}``; the ``code``
values are the sandbox's own (the real gateway's error body is undocumented).

``POST sms`` is validated as the gateway documents: message 1..1000 characters (gsm) or
450 (ucs2), non-GSM text with ``encoding: "gsm"`` refused (option ``non_gsm``), message
types N/L/LL and GP/TI/SI (LL/SI: one part, no custom sender), recipients ``+`` or ``00``
then 6-15 digits (invalid ones dropped with ``allowInvalidRecipients``), sender at most 11
alphanumeric or 16 numeric characters, ``scheduled_delivery_time`` in the documented
formats or ISO 8601 (naive times in ``scheduled_delivery_timezone``, default Europe/Rome;
a time not in the future is sent at once and noted, or a 400 with ``strict_schedule``),
``order_id`` at most 32 of ``[A-Za-z0-9_.-]`` and never reused
(option ``duplicate_order_id``: ``reject`` or ``accept`` = answer the original again),
``max_recipients`` (10000), credits per type (segments x recipients).

Delivery simulation, one state per ``step`` seconds (default 1): ``WAITING -> SENT ->
WAIT4DLVR -> DLVRD`` for N/GP, ``WAITING -> SENT`` for the others, ``SCHEDULED`` before the
scheduled time. Test numbers, by their last four digits (``TEST_NUMBERS``):

====== =========================================================================
0001   UNKNRCPT after WAITING
0002   BLACKLISTED after WAITING
0003   ERROR after WAITING
0004   KO after WAITING
0005   TIMEOUT after WAIT4DLVR (types with delivery report; others end SENT)
0006   TOOM4NUM after WAITING
0008   stays WAIT4DLVR forever (types with delivery report; others end SENT)
====== =========================================================================

Fault switches (constructor, CLI flag, or ``POST /_sandbox/config`` at run time; all off
by default; ``*_rate`` = share of calls drawn from a generator seeded by ``seed``,
``*_next`` = the next N calls): ``latency`` (ms, fixed or ``MIN-MAX``),
``error_rate/next`` (500, order NOT accepted), ``error_after_rate/next`` (500, order
accepted), ``timeout_after_rate/next`` + ``timeout_seconds`` (order accepted, no answer,
then the connection closes), ``drop_after_rate/next`` (order accepted, connection closed
unanswered), ``rate_limit_rate/next`` + ``retry_after`` (429 with Retry-After),
``unauthorized_rate/next`` (401) and the action ``expire_sessions`` (every session key
issued so far becomes invalid), ``revoke_tokens`` likewise; ``fault_scope`` = ``send``
(only POST sms) or ``all``. ``POST /_sandbox/reset`` forgets orders and switches faults off.

Received SMS: ``POST /_sandbox/inbound`` (``{"sender", "text", "id_sim"}``) or the form on
the page makes the account receive one; ``newsrsmsmessage`` returns it once.

Blacklist: ``GET blacklist/sms``, ``POST blacklist/sms?phoneNumber=``, ``POST
blacklist/smsbatch`` (:mod:`django_smsrest.sandbox.blacklist`); ``POST /_sandbox/blacklist``
(``{"phoneNumber", "origin": "WEB" | "STOPSMS"}``) adds a number as the web panel or the
Stop SMS service would.

Sender aliases: ``GET alias`` (:mod:`django_smsrest.sandbox.aliases`) lists the account's
aliases, ``Sandbox`` confirmed from the start; ``POST /_sandbox/alias`` (``{"alias",
"state"}``) registers one or changes its state.

Inspection: ``GET /_sandbox/orders`` (JSON: each order with its states and how many POSTs
carried its order_id, plus counters) and ``GET /_sandbox/`` (HTML, newest first). Neither
shows the password or any key; request logs (``--verbose``) never include query strings.

Fidelity: how sure each simulated behaviour is, with its source (*confirmed*: the
documentation states it; *likely*: real clients suggest it; *switchable*: the sandbox
invents it and an option changes it; *invented*: the sandbox invents it, fixed) is one
table, :data:`django_smsrest.sandbox.fidelity.FIDELITY`, which the page (``GET
/_sandbox/``) shows.

Layers (an import-linter contract in ``pyproject.toml``), top to bottom: ``__main__``;
``server`` (HTTP); ``page`` and ``callbacks`` (what the server shows, the watcher it
starts); ``api`` (the REST dispatch: one table of endpoints); ``sending`` (the send
endpoints); ``state``; its parts ``auth``, ``faults``, ``orders``, ``inbound``,
``twofactor``, ``blacklist``, ``aliases``; ``queries``; ``delivery``; ``validation``;
``sendkinds``; and at the bottom the wire formats and options, ``replies``, ``config``
and ``fidelity``.
"""

from __future__ import annotations

from django_smsrest.sandbox.config import SandboxConfig
from django_smsrest.sandbox.server import SandboxHTTPServer, make_server, tls_context
from django_smsrest.sandbox.state import TEST_NUMBERS, SandboxState

__all__ = [
    "TEST_NUMBERS",
    "SandboxConfig",
    "SandboxHTTPServer",
    "SandboxState",
    "make_server",
    "tls_context",
]
