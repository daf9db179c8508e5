"""``python -m django_smsrest.sandbox``: run the sandbox gateway until Ctrl-C or SIGTERM.

Prints exactly one line on standard output, the API base URL (with the real port when
``--port 0`` asked for an ephemeral one), flushed, e.g.::

    http://127.0.0.1:8765/API/v1.0/REST/

With ``--tls-cert CERT.pem --tls-key KEY.pem`` it serves HTTPS instead and prints an
``https://`` URL; clients verify the certificate against ``CERT.pem`` (for a self-signed
one, see :func:`django_smsrest.testing.sandbox.make_self_signed_cert`).

Anything else (``--verbose`` request logs, errors) goes to standard error. Every option of
:class:`~django_smsrest.sandbox.config.SandboxConfig` is a flag (``step`` is ``--step``,
``error_after_rate`` is ``--error-after-rate``); the account may also come from the
environment (``SMSREST_SANDBOX_USERNAME`` / ``SMSREST_SANDBOX_PASSWORD``) so that the
password does not show in the process list.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from django_smsrest.sandbox.config import BOOLEAN_OPTIONS, OPTION_NAMES, SandboxConfig
from django_smsrest.sandbox.server import make_server, tls_context
from django_smsrest.sandbox.state import TEST_NUMBERS, SandboxState

_HELP = {
    "username": "account username (default: sandbox, or $SMSREST_SANDBOX_USERNAME)",
    "password": "account password (default: sandbox, or $SMSREST_SANDBOX_PASSWORD)",
    "seed": "seed of the random generator behind faults (reproducible runs)",
    "session_idle": "seconds a session key lives without calls (default 300)",
    "step": "seconds between two delivery states (default 1)",
    "credits": "credits per type: a number for all, or N=100,L=50,LL=0 (default 100000)",
    "money": "money balance shown by status?getMoney=true",
    "max_recipients": "recipients allowed per POST sms (default 10000)",
    "duplicate_order_id": "reject | accept: answer to a repeated order_id (default reject)",
    "non_gsm": "reject | accept: non-GSM text sent with encoding gsm (default reject)",
    "timezone": "IANA zone for naive dates in and dates out (default Europe/Rome)",
    "schedule_grace": "with --strict-schedule, seconds a time may be past (default 60)",
    "callback_url": "POST recipients' state changes to this loopback URL (form fields)",
    "strict_schedule": "refuse (400) a scheduled time in the past; default: send it at once",
    "brand": "smsend | skebby | ...: codes listed by status?typeAliases=true (default smsend)",
    "latency": "added latency in ms: MS or MIN-MAX",
    "timeout_seconds": "how long a timeout_after fault keeps the client waiting (default 30)",
    "retry_after": "Retry-After seconds sent with a 429 (default 1)",
    "fault_scope": "send | all: which calls 429/500/401 faults hit (default send = POST sms)",
}
_FAULT_HELP = {
    "error": "500 before accepting the order",
    "error_after": "500 after accepting the order",
    "timeout_after": "accept, then no answer (read timeout)",
    "drop_after": "accept, then close the connection unanswered",
    "rate_limit": "429 with Retry-After",
    "unauthorized": "401 as if the session had expired",
}


def build_parser() -> argparse.ArgumentParser:
    numbers = ", ".join(f"...{suffix} {n.state}" for suffix, n in TEST_NUMBERS.items())
    parser = argparse.ArgumentParser(
        prog="python -m django_smsrest.sandbox",
        description="Local sandbox of the smSend/Skebby SMS REST API. Prints its base URL.",
        epilog=f"Test numbers (by last digits): {numbers}. Inspect at /_sandbox/.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one")
    parser.add_argument("--verbose", action="store_true", help="log requests (no query strings)")
    parser.add_argument(
        "--tls-cert", metavar="CERT.pem", help="serve HTTPS with this certificate (PEM)"
    )
    parser.add_argument(
        "--tls-key",
        metavar="KEY.pem",
        help="the certificate's private key (PEM; default: read from --tls-cert)",
    )
    parser.add_argument(
        "--group",
        dest="groups",
        action="append",
        metavar="NAME=NUMBERS",
        help="a contact group for POST smstogroups, e.g. clienti=+393471234567,+39...; repeatable",
    )
    for name in OPTION_NAMES:
        if name == "groups":
            continue
        kind, _, rest = name.rpartition("_")
        if rest in ("rate", "next") and kind in _FAULT_HELP:
            share = "share 0..1 of calls" if rest == "rate" else "the next N calls"
            text = f"{_FAULT_HELP[kind]}: {share}"
        else:
            text = _HELP.get(name, name)
        flag = "--" + name.replace("_", "-")
        if name in BOOLEAN_OPTIONS:
            parser.add_argument(
                flag, dest=name, nargs="?", const="true", metavar="BOOL", help=text
            )
        else:
            parser.add_argument(flag, dest=name, metavar="VALUE", help=text)
    return parser


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    options = {
        name: getattr(args, name) for name in OPTION_NAMES if getattr(args, name) is not None
    }
    for name in ("username", "password"):
        env = os.environ.get(f"SMSREST_SANDBOX_{name.upper()}")
        if env and name not in options:
            options[name] = env
    try:
        config = SandboxConfig.from_options(**options)
    except ValueError as error:
        parser.error(str(error))
    if args.tls_key and not args.tls_cert:
        parser.error("--tls-key needs --tls-cert")
    context = None
    if args.tls_cert:
        try:
            context = tls_context(args.tls_cert, args.tls_key)
        except OSError as error:
            print(f"sandbox: cannot load the TLS certificate: {error}", file=sys.stderr)
            return 2
    try:
        server = make_server(
            args.host, args.port, SandboxState(config), verbose=args.verbose, ssl_context=context
        )
    except OSError as error:
        print(f"sandbox: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop)
    print(server.base_url, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server.close_connections()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
