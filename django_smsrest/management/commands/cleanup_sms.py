"""``manage.py cleanup_sms --days N [--dry-run] [--redact]``: retention.

Deletes the finished messages created, and the received SMS received, more than N days
ago, in batches (the name mirrors django-post-office's ``cleanup_mail``); ``--redact``
keeps the rows for statistics but blanks texts and numbers; ``--dry-run`` only counts.
Messages still open (queued, sending, unknown, scheduled, awaiting delivery reports) are
never touched. A thin shell over :func:`django_smsrest.services.retention.cleanup`.

Exit status: 0 success; 2 bad arguments.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_smsrest.services import retention

HELP = gettext_lazy(
    "Delete (or, with --redact, blank the texts and numbers of) finished SMS and "
    "received SMS older than --days days. Open messages are never touched."
)


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per instance, so the help is in the language active when the command runs.
        self.help = str(HELP)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            required=True,
            metavar="N",
            help=_("Keep the last N days (N >= 1)."),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=_("Only count what would be deleted or redacted."),
        )
        parser.add_argument(
            "--redact",
            action="store_true",
            help=_("Keep the rows for statistics; blank texts, phone numbers and the raw JSON."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days < 1:
            raise CommandError(
                _("--days must be at least 1, not %(days)s") % {"days": days}, returncode=2
            )
        report = retention.cleanup(days, redact=options["redact"], dry_run=options["dry_run"])
        values = {
            "messages": report.messages,
            "received": report.received,
            "days": days,
            "cutoff": formats.localize(timezone.localtime(report.cutoff).replace(microsecond=0)),
        }
        if report.dry_run and report.redacted:
            line = _(
                "Dry run: %(messages)d messages and %(received)d received SMS older than "
                "%(days)d days (before %(cutoff)s) would be redacted."
            )
        elif report.dry_run:
            line = _(
                "Dry run: %(messages)d messages and %(received)d received SMS older than "
                "%(days)d days (before %(cutoff)s) would be deleted."
            )
        elif report.redacted:
            line = _(
                "Redacted %(messages)d messages and %(received)d received SMS older than "
                "%(days)d days (before %(cutoff)s)."
            )
        else:
            line = _(
                "Deleted %(messages)d messages and %(received)d received SMS older than "
                "%(days)d days (before %(cutoff)s)."
            )
        self.stdout.write(line % values)
