"""The ``send_sms`` command's input side: exit statuses and how arguments are read.

Kept apart from the command class so that the command is only options and dispatch, and
so that these rules can be tested without running a command.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

#: Exit status for bad arguments / invalid input / configuration (argparse uses it too).
EXIT_USAGE = 2
#: Exit status when a message failed or the gateway could not be reached.
EXIT_FAILED = 1
#: Largest ``--csv`` file read: 50,000 recipients with a few values each take 2-3 MB, and
#: one message has to fit in memory anyway. A file without newlines (``/dev/zero``) would
#: otherwise be read without bound.
MAX_CSV_BYTES = 32 * 1024 * 1024
#: The modes other than sending one message (each a ``--NAME`` flag), in --help's order.
MODES = (
    "flush",
    "sweep",
    "loop",
    "refresh",
    "credits",
    "receive",
    "sync_blacklist",
    "aliases",
)


def usage_error(message: str) -> CommandError:
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
        raise usage_error(
            _(
                "--at %(value)s is not an ISO 8601 date-time; use e.g. 2030-01-31T09:30 "
                "(project time zone) or 2030-01-31T09:30+01:00"
            )
            % {"value": repr(value)}
        ) from None
    if len(text) <= 10:
        # "2030-01-31" parses as midnight; refuse it rather than guess a time.
        raise usage_error(
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


#: The command-line name of each field of ``validate_sms``: what the person typed (and the
#: same in every language).
OPTION_OF_FIELD = {
    "message": "TEXT",
    "recipients": "--to",
    "groups": "--group",
    "sender": "--sender",
    "message_type": "--type",
    "scheduled_delivery_time": "--at",
}


def validation_text(exc: ValidationError) -> str:
    """``option: message`` lines, one per problem, for the terminal."""
    if hasattr(exc, "error_dict"):
        lines = [
            f"{OPTION_OF_FIELD.get(field, field)}: {message}"
            for field, errors in exc.error_dict.items()
            for error in errors
            for message in error.messages
        ]
    else:
        lines = list(exc.messages)
    return _("invalid SMS:") + "\n  " + "\n  ".join(lines)


def add_arguments(parser: CommandParser) -> None:
    """The command's options: one mode (or none: send one message) and its arguments."""
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
        "--loop",
        action="store_true",
        help=_(
            "Run the sweep every --interval seconds until interrupted (Ctrl-C, SIGTERM): "
            "a worker process for projects without a task worker."
        ),
    )
    mode.add_argument(
        "--refresh", action="store_true", help=_("Poll the delivery states that are due.")
    )
    mode.add_argument(
        "--credits", action="store_true", help=_("Print the account's remaining credits.")
    )
    mode.add_argument(
        "--receive",
        action="store_true",
        help=_("Read the SMS the account received and store each one once."),
    )
    mode.add_argument(
        "--aliases",
        action="store_true",
        help=_("List the account's sender aliases and their state."),
    )
    mode.add_argument(
        "--sync-blacklist",
        action="store_true",
        help=_(
            "Pull the gateway's blacklist into the suppression list and push the local "
            "suppressions it lacks."
        ),
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
    send.add_argument(
        "--group",
        action="append",
        metavar="NAME",
        help=_(
            "A contact group of the provider's panel to send to (repeatable), instead of --to."
        ),
    )
    send.add_argument(
        "--csv",
        metavar="FILE",
        help=_(
            "A personalised message: one recipient per row of FILE (UTF-8, a header row "
            "with a “recipient” column and one column per ${placeholder} of TEXT)."
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
        "--marketing",
        action="store_true",
        help=_(
            "A marketing message: numbers on the suppression list are skipped and quiet "
            "hours are respected (default: transactional)."
        ),
    )
    send.add_argument(
        "--campaign", metavar="NAME", help=_("The gateway's campaign name for this message.")
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
        "--interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help=_("--loop: seconds between two sweeps (default 5)."),
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help=_(
            "Print nothing but errors (for cron). Progress bars only appear on a terminal anyway."
        ),
    )


def check_combinations(mode: str | None, options: dict[str, Any]) -> None:
    """Refuse options that do not go together, with exit status 2 and the reason."""
    send_only = {
        "--to": options["to"],
        "--group": options["group"],
        "--csv": options["csv"],
        "TEXT": options["text"],
        "--sender": options["sender"],
        "--type": options["message_type"],
        "--at": options["at"],
        "--queue": options["queue"],
        "--dry-run": options["dry_run"],
        "--marketing": options["marketing"],
        "--campaign": options["campaign"],
    }
    if mode is not None:
        given = [name for name, value in send_only.items() if value]
        if given:
            raise usage_error(
                _("%(options)s cannot be combined with --%(mode)s")
                % {"options": ", ".join(given), "mode": mode}
            )
    if options["limit"] is not None:
        if mode not in ("flush", "refresh"):
            raise usage_error(_("--limit only applies to --flush and --refresh"))
        if options["limit"] < 1:
            raise usage_error(
                _("--limit must be at least 1, not %(limit)s") % {"limit": options["limit"]}
            )
    if options["interval"] <= 0 or options["interval"] != options["interval"]:
        raise usage_error(_("--interval must be a positive number of seconds"))
    if mode is None:
        audiences = [name for name in ("to", "group", "csv") if options[name]]
        if not audiences:
            raise usage_error(
                _(
                    "give at least one recipient with --to, --group or --csv (or one of "
                    "%(modes)s); see --help"
                )
                % {"modes": ", ".join("--" + name.replace("_", "-") for name in MODES)}
            )
        if len(audiences) > 1:
            raise usage_error(_("give the recipients with one of --to, --group or --csv"))
        if options["text"] is None:
            raise usage_error(_("give the message text, or '-' to read it from stdin"))
        if options["queue"] and options["dry_run"]:
            raise usage_error(_("--queue and --dry-run exclude each other"))


def read_csv(path: str) -> list[dict[str, str]]:
    """The rows of a ``--csv`` file as recipient maps (``recipient`` plus one value per
    placeholder). Raises ``CommandError`` (exit 2) with the reason for a file that cannot
    be read, is larger than :data:`MAX_CSV_BYTES`, is not UTF-8, has no ``recipient``
    column, names a column twice or has a row of the wrong width."""
    try:
        with open(path, "rb") as stream:
            # At most one byte past the limit is read, whatever the file is.
            data = stream.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            raise usage_error(
                _(
                    "%(path)s is larger than %(limit)s, the limit of --csv; split it into "
                    "several files"
                )
                % {"path": path, "limit": _size(MAX_CSV_BYTES)}
            )
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        columns = [name.strip() for name in reader.fieldnames or []]
        if "recipient" not in columns:
            raise usage_error(
                _("%(path)s has no “recipient” column (its header: %(columns)s)")
                % {"path": path, "columns": ", ".join(columns) or _("empty")}
            )
        repeated = [(name, n) for name, n in Counter(columns).items() if n > 1]
        if repeated:
            # csv.DictReader keeps the last value of a repeated column and drops the others.
            name, times = repeated[0]
            raise usage_error(
                _(
                    "%(path)s: the column “%(name)s” appears %(times)d times in the header; "
                    "give each column a different name"
                )
                % {"path": path, "name": name, "times": times}
            )
        rows = []
        for line, row in enumerate(reader, start=2):
            if None in row or None in row.values():
                raise usage_error(
                    _("%(path)s, line %(line)d: not as many values as columns")
                    % {"path": path, "line": line}
                )
            rows.append({key.strip(): value.strip() for key, value in row.items()})
    except OSError as exc:
        raise usage_error(
            _("cannot read %(path)s: %(error)s") % {"path": path, "error": exc.strerror}
        ) from None
    except UnicodeDecodeError:
        raise usage_error(_("%(path)s is not UTF-8 text") % {"path": path}) from None
    except csv.Error as exc:
        raise usage_error(
            _("%(path)s is not valid CSV: %(error)s") % {"path": path, "error": exc}
        ) from None
    return rows


def _size(size: int) -> str:
    """``32 MB`` for a whole number of MiB, else ``N bytes``."""
    mib = 1024 * 1024
    if size % mib == 0:
        return _("%(n)d MB") % {"n": size // mib}
    return _("%(n)d bytes") % {"n": size}
