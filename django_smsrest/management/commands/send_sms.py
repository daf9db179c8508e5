"""``manage.py send_sms``: send an SMS from the shell, and run the outbox from cron.

Usage::

    manage.py send_sms (--to NUMBER [--to ...] | --group NAME [--group ...] | --csv FILE)
                       [--sender S] [--type T] [--at WHEN] [--queue] [--dry-run]
                       [--marketing] [--campaign NAME] (TEXT | -)
    manage.py send_sms --flush [--limit N] [--quiet]     send what is queued and due
    manage.py send_sms --sweep [--quiet]                 the every-minute cron job
    manage.py send_sms --loop [--interval S] [--quiet]   the sweep, every S seconds: a worker
    manage.py send_sms --refresh [--limit N] [--quiet]   poll due delivery states
    manage.py send_sms --credits                         print the account's credits
    manage.py send_sms --receive                         store the SMS the account received
    manage.py send_sms --aliases                         the account's sender aliases
    manage.py send_sms --sync-blacklist                  sync the suppression list and the
                                                         gateway's blacklist, both ways

Exit status: 0 success; 1 a message failed (or the gateway could not be reached);
2 bad arguments, invalid input or configuration (nothing was sent).

The command is a thin shell over :mod:`django_smsrest.services`; it never changes a row
itself. How arguments are read is in :mod:`django_smsrest.management.cli`, what it prints in
:mod:`django_smsrest.management.output`.
"""

from __future__ import annotations

import sys
import threading
from typing import IO, Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from django_smsrest import dispatch, lifecycle, services
from django_smsrest.exceptions import SmsRestError
from django_smsrest.management import output
from django_smsrest.management.cli import (
    EXIT_FAILED,
    MODES,
    add_arguments,
    check_combinations,
    parse_when,
    read_csv,
    split_numbers,
    usage_error,
    validation_text,
)
from django_smsrest.management.loop import run_loop, stop_on_signals
from django_smsrest.models import SmsMessage, Status, WorkerKind
from django_smsrest.validation import SmsOptions

# Lazy: the command class is imported once, the help is shown in the active language.
HELP = gettext_lazy("""\
Send an SMS, or run the outbox.

  send_sms --to +393471234567 [--to ...] "Hello"  send now (or --to a,b,c)
  echo "Hello" | send_sms --to +393471234567 -     text from stdin
  send_sms --to ... --at 2030-01-31T09:00 "Hi"    scheduled (naive = TIME_ZONE)
  send_sms --to ... --queue "Hi"                  store for the task worker
  send_sms --to ... --dry-run "Hi"                show encoding, segments, credits
  send_sms --to ... --marketing --campaign x "Hi" a promotion: skips opted-out numbers
  send_sms --group clienti "Hi"                   to a contact group of the panel
  send_sms --csv rows.csv "Ciao ${name}"          personalised, one row per recipient
  send_sms --flush [--limit N]                    send queued messages that are due
  send_sms --sweep                                cron, every minute: recover, retry,
                                                  reconcile, poll delivery states
  send_sms --loop [--interval 5]                  the sweep every few seconds, until
                                                  Ctrl-C / SIGTERM (a worker process)
  send_sms --refresh [--limit N]                  poll delivery states that are due
  send_sms --credits                              print the account's credits
  send_sms --receive                              store the SMS the account received
  send_sms --sync-blacklist                       suppression list <-> gateway blacklist
  send_sms --aliases                              the account's sender aliases

Exit status: 0 ok, 1 a message failed, 2 bad arguments or invalid input.
""")


class Command(BaseCommand):
    # call_command(..., stdin=io.StringIO("text")) in tests; not a command-line option.
    stealth_options = ("stdin",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per instance, so the help is in the language active when the command runs.
        self.help = str(HELP)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        from argparse import RawDescriptionHelpFormatter

        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    # --- dispatch ---------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        self.quiet = bool(options["quiet"]) or options.get("verbosity", 1) == 0
        mode = next((name for name in MODES if options[name]), None)
        check_combinations(mode, options)
        try:
            if mode in ("flush", "sweep"):
                services.beat(WorkerKind.CRON)  # the heartbeat of a cron run (sms_health)
            if mode == "flush":
                self.flush(options["limit"])
            elif mode == "sweep":
                self.sweep()
            elif mode == "loop":
                self.loop(options["interval"])
            elif mode == "refresh":
                self.refresh(options["limit"])
            elif mode == "credits":
                self.credits()
            elif mode == "receive":
                self.receive()
            elif mode == "sync_blacklist":
                self.sync_blacklist()
            elif mode == "aliases":
                self.aliases()
            else:
                self.send(options)
        except ImproperlyConfigured as exc:
            raise usage_error(_("Configuration error: %(error)s") % {"error": exc}) from None
        except SmsRestError as exc:
            raise CommandError(
                _("Gateway error: %(error)s") % {"error": exc}, returncode=EXIT_FAILED
            ) from None

    # --- one message ------------------------------------------------------------------

    def _read_text(self, options: dict[str, Any]) -> str:
        text: str = options["text"]
        if text != "-":
            return text
        stream: IO[str] = options.get("stdin") or sys.stdin
        try:
            read = stream.read()
        except UnicodeDecodeError as exc:
            raise usage_error(
                _("the text on standard input is not valid %(encoding)s: %(error)s")
                % {"encoding": exc.encoding.upper(), "error": exc.reason}
            ) from None
        # One trailing newline (from echo or a file) is not part of the message.
        return read.removesuffix("\n").removesuffix("\r")

    def send(self, options: dict[str, Any]) -> None:
        text = self._read_text(options)
        recipients: list[Any] = (
            read_csv(options["csv"]) if options["csv"] else split_numbers(options["to"])
        )
        when = parse_when(options["at"]) if options["at"] else None
        kwargs: SmsOptions = {
            "sender": options["sender"],
            "message_type": options["message_type"],
            "scheduled_delivery_time": when,
            "groups": options["group"],
            "purpose": "marketing" if options["marketing"] else None,
            "campaign_name": options["campaign"],
        }
        try:
            checked = services.validate_sms(text, recipients, **kwargs)
            if options["dry_run"]:
                # A dry run prints even with --quiet: printing is its whole point.
                self.stdout.write("\n".join(output.dry_run_lines(checked)))
                return
            message = services.send_sms(text, recipients, defer=options["queue"], **kwargs)
        except ValidationError as exc:
            raise usage_error(validation_text(exc)) from None
        message.refresh_from_db()
        # With no worker (ImmediateBackend) the task already ran at commit: report its
        # outcome as a send's, not "the worker will send it".
        queued = bool(options["queue"]) and not dispatch.runs_inline()
        if not self.quiet:
            self.stdout.write(output.message_line(message, self.style, queued=queued))
        self._exit_unless_sent(message, queued=queued)

    def _exit_unless_sent(self, message: SmsMessage, *, queued: bool) -> None:
        """Exit 1 when the message failed, or when it was to be sent now and is still
        waiting (the gateway could not be reached, or the outcome is being checked)."""
        reason = message.last_error or message.get_status_display()
        if message.status in lifecycle.FAILED_OUTCOMES:
            raise CommandError(
                _("SMS #%(pk)s failed: %(error)s") % {"pk": message.pk, "error": reason},
                returncode=EXIT_FAILED,
            )
        if not queued and message.status in lifecycle.IN_FLIGHT:
            raise CommandError(
                _(
                    "SMS #%(pk)s was not sent yet: %(error)s It stays in the outbox and "
                    "will be tried again by the sweep or the task worker."
                )
                % {"pk": message.pk, "error": output.sentence(reason)},
                returncode=EXIT_FAILED,
            )

    # --- the outbox -------------------------------------------------------------------

    def flush(self, limit: int | None) -> None:
        total = services.pending_count()
        if limit is not None:
            total = min(total, limit)
        with output.progress(self.stdout, _("Sending"), total, quiet=self.quiet) as on_progress:
            report = services.flush_queue(limit=limit, on_progress=on_progress)
        failed = sum(
            n for status, n in report.by_status.items() if status in lifecycle.FAILED_OUTCOMES
        )
        if not self.quiet:
            summary = ", ".join(f"{n} {status}" for status, n in sorted(report.by_status.items()))
            extra = (
                _(", %(n)s taken by another worker") % {"n": report.skipped}
                if report.skipped
                else ""
            )
            self.stdout.write(
                _("Flushed the queue: %(summary)s%(extra)s.")
                % {"summary": summary or _("nothing due"), "extra": extra}
            )
        if failed or report.errors:
            raise CommandError(
                ngettext(
                    "%(n)s message failed; see last_error in the admin.",
                    "%(n)s messages failed; see last_error in the admin.",
                    failed + report.errors,
                )
                % {"n": failed + report.errors},
                returncode=EXIT_FAILED,
            )
        if report.paused_until is not None:
            raise CommandError(
                _(
                    "Stopped early: the gateway is rate limiting the account (HTTP 429); "
                    "sending is paused until %(until)s. The rest stay queued."
                )
                % {"until": timezone.localtime(report.paused_until).isoformat(timespec="seconds")},
                returncode=EXIT_FAILED,
            )
        if report.stopped_early:
            raise CommandError(
                _(
                    "Stopped early: the gateway sent several messages in a row back for a "
                    "retry (unreachable or rate limiting). The rest stay queued."
                ),
                returncode=EXIT_FAILED,
            )

    def sweep(self) -> None:
        started = timezone.now()
        report = services.sweep()
        if not self.quiet:
            self.stdout.write(output.sweep_line(report))
        back = report.sent.get(Status.QUEUED, 0)
        problem = output.sweep_failure(report, services.retry_reasons(started) if back else [])
        if problem:
            raise CommandError(problem, returncode=EXIT_FAILED)

    def _beat_and_sweep(self) -> None:
        services.beat(WorkerKind.LOOP)  # one UPDATE: the heartbeat (sms_health)
        self.sweep()

    def loop(self, interval: float) -> None:
        """Sweep every ``interval`` seconds until SIGINT or SIGTERM; what it survives and
        how it stops: :mod:`django_smsrest.management.loop`."""
        stop = threading.Event()
        with stop_on_signals(stop):
            if not self.quiet:
                self.stdout.write(_("Sweeping every %(s)gs; Ctrl-C to stop.") % {"s": interval})
            run_loop(self._beat_and_sweep, interval, stop, on_reported=self.stderr.write)
        if not self.quiet:
            self.stdout.write(_("Stopped."))

    def refresh(self, limit: int | None) -> None:
        result = services.refresh_due_statuses(limit=limit)
        if not self.quiet:
            self.stdout.write(
                _("Delivery states refreshed: %(report)s.")
                % {"report": output.describe_report(result)}
            )

    def credits(self) -> None:
        status = services.get_credits()
        for kind, quantity in sorted(status.credits.items()):
            self.stdout.write(f"{kind}\t{quantity}")
        if status.money is not None:
            self.stdout.write(f"money\t{status.money}")

    def receive(self) -> None:
        report = services.receive_sms()
        if not self.quiet:
            self.stdout.write(
                _("Received SMS: %(report)s.") % {"report": output.describe_report(report)}
            )

    # --- consent ----------------------------------------------------------------------

    def sync_blacklist(self) -> None:
        report = services.sync_blacklist()
        self.stdout.write("\n".join(output.sync_lines(report)))
        if report.refused:
            raise CommandError(
                _("The gateway refused %(n)d number(s); they stay to be pushed next time.")
                % {"n": len(report.refused)},
                returncode=EXIT_FAILED,
            )

    def aliases(self) -> None:
        from django_smsrest.conf import get_settings

        found = services.list_aliases()
        self.stdout.write("\n".join(output.alias_lines(found, get_settings().default_sender)))
