"""``manage.py send_sms``: send an SMS from the shell, and run the outbox from cron.

Usage::

    manage.py send_sms --to NUMBER [--to NUMBER ...] [--sender S] [--type T] [--at WHEN]
                       [--queue] [--dry-run] (TEXT | -)
    manage.py send_sms --flush [--limit N] [--quiet]     send what is queued and due
    manage.py send_sms --sweep [--quiet]                 the every-minute cron job
    manage.py send_sms --refresh [--limit N] [--quiet]   poll due delivery states
    manage.py send_sms --credits                         print the account's credits

Exit status: 0 success; 1 a message failed (or the gateway could not be reached);
2 bad arguments, invalid input or configuration (nothing was sent).

The command is a thin shell over :mod:`django_smsrest.services`; it never changes a row
itself.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_smsrest import lifecycle
from django_smsrest.exceptions import SmsRestError
from django_smsrest.models import Status

if TYPE_CHECKING:
    from django_smsrest.services import SweepReport

#: Exit status for bad arguments / invalid input / configuration (argparse uses it too).
EXIT_USAGE = 2
#: Exit status when a message failed or the gateway could not be reached.
EXIT_FAILED = 1


# Lazy: the command class is imported once, the help is shown in the active language.
HELP = gettext_lazy("""\
Send an SMS, or run the outbox.

  send_sms --to +393471234567 [--to ...] "Hello"  send now (or --to a,b,c)
  echo "Hello" | send_sms --to +393471234567 -     text from stdin
  send_sms --to ... --at 2030-01-31T09:00 "Hi"    scheduled (naive = TIME_ZONE)
  send_sms --to ... --queue "Hi"                  store for the task worker
  send_sms --to ... --dry-run "Hi"                show encoding, segments, credits
  send_sms --flush [--limit N]                    send queued messages that are due
  send_sms --sweep                                cron, every minute: recover, retry,
                                                  reconcile, poll delivery states
  send_sms --refresh [--limit N]                  poll delivery states that are due
  send_sms --credits                              print the account's credits

Exit status: 0 ok, 1 a message failed, 2 bad arguments or invalid input.
""")


def _usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


def parse_when(value: str) -> datetime:
    """An ISO 8601 date-time; a naive one is read in the project's ``TIME_ZONE``.

    Accepts ``2030-01-31T09:30``, ``2030-01-31 09:30:00``, ``2030-01-31T09:30+01:00`` and
    ``...Z``. Raises ``CommandError`` (exit 2) with the accepted forms otherwise.
    """
    text = value.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _usage_error(
            _(
                "--at %(value)s is not an ISO 8601 date-time; use e.g. 2030-01-31T09:30 "
                "(project time zone) or 2030-01-31T09:30+01:00"
            )
            % {"value": repr(value)}
        ) from None
    if len(text) <= 10:
        # "2030-01-31" parses as midnight; refuse it rather than guess a time.
        raise _usage_error(
            _("--at %(value)s has no time of day; use e.g. %(date)sT09:30")
            % {"value": repr(value), "date": text}
        )
    if timezone.is_naive(when):
        when = timezone.make_aware(when, timezone.get_current_timezone())
    return when


def split_numbers(values: Sequence[str] | None) -> list[str]:
    """``--to`` values: repeatable, each may hold several numbers separated by commas."""
    numbers: list[str] = []
    for value in values or ():
        numbers.extend(piece.strip() for piece in value.split(",") if piece.strip())
    return numbers


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
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--flush", action="store_true", help=_("Send the queued messages that are due.")
        )
        mode.add_argument(
            "--sweep",
            action="store_true",
            help=_(
                "Run the outbox maintenance (cron, every minute): recover expired leases, "
                "re-enqueue due messages, reconcile unknown outcomes, poll delivery states."
            ),
        )
        mode.add_argument(
            "--refresh", action="store_true", help=_("Poll the delivery states that are due.")
        )
        mode.add_argument(
            "--credits", action="store_true", help=_("Print the account's remaining credits.")
        )

        send = parser.add_argument_group(_("sending one message"))
        send.add_argument(
            "text",
            nargs="?",
            metavar="TEXT",
            help=_("The message text, or '-' to read it from standard input."),
        )
        send.add_argument(
            "--to",
            action="append",
            metavar="NUMBER",
            help=_(
                "Recipient (repeatable, or comma-separated). International format "
                "(+39...); national numbers use SMSREST['DEFAULT_REGION']."
            ),
        )
        send.add_argument("--sender", help=_("Sender alias or number (if the type allows one)."))
        send.add_argument(
            "--type", dest="message_type", metavar="TYPE", help=_("Message type code (e.g. N).")
        )
        send.add_argument(
            "--at",
            metavar="WHEN",
            help=_("Scheduled delivery time, ISO 8601 (naive = the project's TIME_ZONE)."),
        )
        send.add_argument(
            "--queue",
            action="store_true",
            help=_("Store the message for the task worker instead of sending it now."),
        )
        send.add_argument(
            "--dry-run",
            action="store_true",
            help=_("Validate and print encoding, segments, recipients and credits; send nothing."),
        )

        batch = parser.add_argument_group("--flush / --refresh")
        batch.add_argument(
            "--limit", type=int, metavar="N", help=_("Handle at most N messages (N >= 1).")
        )
        parser.add_argument(
            "--quiet",
            action="store_true",
            help=_(
                "Print nothing but errors (for cron). Progress bars only appear on a "
                "terminal anyway."
            ),
        )

    # --- dispatch ---------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        self.quiet = bool(options["quiet"]) or options.get("verbosity", 1) == 0
        mode = next(
            (name for name in ("flush", "sweep", "refresh", "credits") if options[name]), None
        )
        self._check_combinations(mode, options)
        try:
            if mode == "flush":
                self.flush(options["limit"])
            elif mode == "sweep":
                self.sweep()
            elif mode == "refresh":
                self.refresh(options["limit"])
            elif mode == "credits":
                self.credits()
            else:
                self.send(options)
        except ImproperlyConfigured as exc:
            raise _usage_error(_("Configuration error: %(error)s") % {"error": exc}) from None
        except SmsRestError as exc:
            raise CommandError(
                _("Gateway error: %(error)s") % {"error": exc}, returncode=EXIT_FAILED
            ) from None

    def _check_combinations(self, mode: str | None, options: dict[str, Any]) -> None:
        send_only = {
            "--to": options["to"],
            "TEXT": options["text"],
            "--sender": options["sender"],
            "--type": options["message_type"],
            "--at": options["at"],
            "--queue": options["queue"],
            "--dry-run": options["dry_run"],
        }
        if mode is not None:
            given = [name for name, value in send_only.items() if value]
            if given:
                raise _usage_error(
                    _("%(options)s cannot be combined with --%(mode)s")
                    % {"options": ", ".join(given), "mode": mode}
                )
        if options["limit"] is not None:
            if mode not in ("flush", "refresh"):
                raise _usage_error(_("--limit only applies to --flush and --refresh"))
            if options["limit"] < 1:
                raise _usage_error(
                    _("--limit must be at least 1, not %(limit)s") % {"limit": options["limit"]}
                )
        if mode is None:
            if not options["to"]:
                raise _usage_error(
                    _(
                        "give at least one recipient with --to (or one of --flush, --sweep, "
                        "--refresh, --credits); see --help"
                    )
                )
            if options["text"] is None:
                raise _usage_error(_("give the message text, or '-' to read it from stdin"))
            if options["queue"] and options["dry_run"]:
                raise _usage_error(_("--queue and --dry-run exclude each other"))

    # --- one message ------------------------------------------------------------------

    def _read_text(self, options: dict[str, Any]) -> str:
        text: str = options["text"]
        if text != "-":
            return text
        stream: IO[str] = options.get("stdin") or sys.stdin
        # One trailing newline (from echo or a file) is not part of the message.
        return stream.read().removesuffix("\n").removesuffix("\r")

    def send(self, options: dict[str, Any]) -> None:
        from django_smsrest import services

        text = self._read_text(options)
        numbers = split_numbers(options["to"])
        when = parse_when(options["at"]) if options["at"] else None
        kwargs = {
            "sender": options["sender"],
            "message_type": options["message_type"],
            "scheduled_delivery_time": when,
        }
        try:
            checked = services.validate_sms(text, numbers, **kwargs)
            if options["dry_run"]:
                self._print_dry_run(checked)
                return
            message = services.send_sms(text, numbers, defer=options["queue"], **kwargs)
        except ValidationError as exc:
            raise _usage_error(_validation_text(exc)) from None
        message.refresh_from_db()
        self._print_message(message, queued=options["queue"])
        if message.status in lifecycle.FAILED_OUTCOMES:
            raise CommandError(
                _("SMS #%(pk)s failed: %(error)s")
                % {"pk": message.pk, "error": message.last_error or message.get_status_display()},
                returncode=EXIT_FAILED,
            )

    def _print_dry_run(self, checked: Any) -> None:
        from django_smsrest.models import Encoding

        when = checked.scheduled_delivery_time
        # One msgid per line, labels included, so that a translation can realign them.
        lines = [
            _("Dry run: nothing was sent."),
            _("  encoding:    %(encoding)s") % {"encoding": Encoding(checked.encoding).label},
            _("  segments:    %(n)s per recipient") % {"n": checked.segments},
            _("  recipients:  %(n)s (%(numbers)s)")
            % {"n": len(checked.recipients), "numbers": ", ".join(checked.recipients)},
            _("  credits:     %(n)s") % {"n": checked.credits},
            _("  type:        %(type)s") % {"type": checked.message_type},
            _("  sender:      %(sender)s") % {"sender": checked.sender or _("(account default)")},
            _("  scheduled:   %(when)s")
            % {"when": timezone.localtime(when).isoformat() if when else _("now")},
        ]
        if checked.orders > 1:
            lines.append(_("  orders:      %(n)s (POST sms requests)") % {"n": checked.orders})
        # A dry run prints even with --quiet: printing is its whole point.
        self.stdout.write("\n".join(lines))

    def _print_message(self, message: Any, *, queued: bool) -> None:
        if self.quiet:
            return
        parts = [
            _("SMS #%(pk)s to %(count)s recipient(s): %(status)s")
            % {
                "pk": message.pk,
                "count": message.recipient_count,
                "status": message.get_status_display(),
            },
            _("order %(order_id)s") % {"order_id": message.order_id},
        ]
        if message.total_sent is not None:
            parts.append(_("%(n)s credit(s) used") % {"n": message.total_sent})
        if message.remaining_credits is not None:
            parts.append(_("%(n)s left") % {"n": message.remaining_credits})
        if queued and message.status == Status.QUEUED:
            parts.append(_("the task worker will send it"))
        style = (
            self.style.ERROR if message.status in lifecycle.FAILED_OUTCOMES else self.style.SUCCESS
        )
        self.stdout.write(style(" · ".join(parts)))

    # --- the outbox -------------------------------------------------------------------

    def flush(self, limit: int | None) -> None:
        from django_smsrest import services

        total = services.pending_count()
        if limit is not None:
            total = min(total, limit)
        with self._progress(_("Sending"), total=total) as on_progress:
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
                _("%(n)s message(s) failed; see last_error in the admin.")
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
        from django_smsrest import services

        report = services.sweep()
        if not self.quiet:
            self.stdout.write(_("Sweep: %(report)s.") % {"report": _describe_report(report)})
        if report.errors:
            raise CommandError(
                _("Sweep finished with %(n)s error(s); see the logs.") % {"n": report.errors},
                returncode=EXIT_FAILED,
            )

    def refresh(self, limit: int | None) -> None:
        from django_smsrest import services

        result = services.refresh_due_statuses(limit=limit)
        if not self.quiet:
            self.stdout.write(
                _("Delivery states refreshed: %(report)s.") % {"report": _describe_report(result)}
            )

    def credits(self) -> None:
        from django_smsrest import services

        status = services.get_credits()
        for kind, quantity in sorted(status.credits.items()):
            self.stdout.write(f"{kind}\t{quantity}")
        if status.money is not None:
            self.stdout.write(f"money\t{status.money}")

    @contextmanager
    def _progress(self, label: str, total: int | None) -> Iterator[Callable[..., None] | None]:
        """A tqdm bar on a terminal; ``None`` (no callback) under cron or with --quiet."""
        stream = getattr(self.stdout, "_out", sys.stdout)
        if self.quiet or not (hasattr(stream, "isatty") and stream.isatty()):
            yield None
            return
        try:
            from tqdm import tqdm
        except ImportError:  # tqdm is optional: no bar, same result
            yield None
            return
        bar = tqdm(total=total, desc=label, unit="sms", file=stream, leave=False)

        def on_progress(pk: int, message: Any = None) -> None:
            # services.flush_queue calls this once per message handled.
            bar.update(1)
            if message is not None:
                bar.set_postfix_str(f"#{pk} {message.status}", refresh=False)

        try:
            yield on_progress
        finally:
            bar.close()


def _validation_text(exc: ValidationError) -> str:
    """``field: message`` lines, one per problem, for the terminal."""
    if hasattr(exc, "error_dict"):
        lines = [
            f"{field}: {message}"
            for field, errors in exc.error_dict.items()
            for error in errors
            for message in error.messages
        ]
    else:
        lines = list(exc.messages)
    return _("invalid SMS:") + "\n  " + "\n  ".join(lines)


def _describe_report(report: SweepReport | int | None) -> str:
    """A one-line summary of a services report: a ``SweepReport``, a count, or None."""
    if report is None:
        return _("done")
    if isinstance(report, int):
        return str(report)
    parts = []
    for field in dataclasses.fields(report):
        value = getattr(report, field.name)
        if value is None:
            continue
        if isinstance(value, datetime):
            value = timezone.localtime(value).isoformat(timespec="seconds")
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in sorted(value.items())) or 0
        parts.append(f"{field.name.replace('_', ' ')}: {value}")
    return "; ".join(parts)
