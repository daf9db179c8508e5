"""The ``send_sms`` command's output side: what a person reads on the terminal.

Every function writes through the command's ``stdout`` wrapper (so ``--quiet`` and styles
apply) and reads rows only as the services returned them.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.core.management.base import OutputWrapper
from django.core.management.color import Style
from django.utils import timezone
from django.utils.translation import gettext as _

from django_smsrest import lifecycle
from django_smsrest.models import Encoding, Kind, SmsMessage, Status
from django_smsrest.personalise import render
from django_smsrest.validation import ValidatedSms


def dry_run_lines(checked: ValidatedSms) -> list[str]:
    """What ``--dry-run`` prints: encoding, segments, recipients, credits, type, sender, time."""
    when = checked.scheduled_delivery_time
    # One msgid per line, labels included, so that a translation can realign them.
    lines = [
        _("Dry run: nothing was sent."),
        _("  encoding:    %(encoding)s") % {"encoding": Encoding(checked.encoding).label},
        _("  segments:    %(n)s per recipient") % {"n": checked.segments},
        _("  recipients:  %(n)s (%(numbers)s)")
        % {"n": len(checked.recipients), "numbers": _first(checked.recipients)},
        _("  credits:     %(n)s") % {"n": checked.credits},
        _("  type:        %(type)s") % {"type": checked.message_type},
        _("  sender:      %(sender)s") % {"sender": checked.sender or _("(account default)")},
        _("  scheduled:   %(when)s")
        % {"when": timezone.localtime(when).isoformat() if when else _("now")},
    ]
    if checked.orders > 1:
        lines.append(_("  orders:      %(n)s (POST sms requests)") % {"n": checked.orders})
    if checked.groups:
        lines[3] = _("  groups:      %(groups)s (credits per member)") % {
            "groups": ", ".join(checked.groups)
        }
    for number, values in list(zip(checked.recipients, checked.params, strict=False))[:3]:
        lines.append(
            _("  text for %(number)s: %(text)s")
            % {"number": number, "text": render(checked.message, values)}
        )
    return lines


def _first(numbers: tuple[str, ...], shown: int = 10) -> str:
    """The first ``shown`` numbers, and how many more."""
    text = ", ".join(numbers[:shown])
    if len(numbers) > shown:
        text += " " + _("and %(n)d more") % {"n": len(numbers) - shown}
    return text


def message_line(message: SmsMessage, style: Style, *, queued: bool) -> str:
    """One styled line for a message just sent or queued: status, order, credits."""
    if message.kind == Kind.GROUPS:
        lead = _("SMS #%(pk)s to the group(s) %(groups)s: %(status)s") % {
            "pk": message.pk,
            "groups": ", ".join(message.groups),
            "status": message.get_status_display(),
        }
    else:
        lead = _("SMS #%(pk)s to %(count)s recipient(s): %(status)s") % {
            "pk": message.pk,
            "count": message.recipient_count,
            "status": message.get_status_display(),
        }
    parts = [
        lead,
        _("order %(order_id)s") % {"order_id": message.order_id},
    ]
    if message.total_sent is not None:
        parts.append(_("%(n)s credit(s) used") % {"n": message.total_sent})
    if message.remaining_credits is not None:
        parts.append(_("%(n)s left") % {"n": message.remaining_credits})
    if queued and message.status == Status.QUEUED:
        parts.append(_("the task worker will send it"))
    when = message.scheduled_delivery_time
    if message.status == Status.SCHEDULED and when is not None:
        parts.append(_("for %(when)s") % {"when": timezone.localtime(when).isoformat()})
    if message.status == Status.CANCELLED and message.last_error:
        parts.append(message.last_error)  # why it was not sent (a veto, opted-out recipients)
    if message.status in lifecycle.FAILED_OUTCOMES:
        paint = style.ERROR
    elif queued or message.status not in lifecycle.IN_FLIGHT:
        paint = style.SUCCESS
    else:  # asked to send now, and it is still waiting: not a success
        paint = style.WARNING
    return paint(" · ".join(parts))


@contextmanager
def progress(
    stdout: OutputWrapper, label: str, total: int | None, *, quiet: bool
) -> Iterator[Callable[..., None] | None]:
    """A tqdm bar on a terminal; ``None`` (no callback) under cron or with --quiet."""
    stream = getattr(stdout, "_out", sys.stdout)
    if quiet or not (hasattr(stream, "isatty") and stream.isatty()):
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


def describe_report(report: Any) -> str:
    """A one-line summary of a services report (a dataclass), a count, or None."""
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


def sync_lines(report: Any) -> list[str]:
    """What ``--sync-blacklist`` prints (a :class:`~django_smsrest.services.blacklist.
    SyncReport`)."""
    lines = [
        _("Blacklist synced with the gateway:"),
        _("  pulled:   %(n)d entries read, %(new)d new on the suppression list")
        % {"n": report.pulled, "new": report.added},
        _("  pushed:   %(n)d local suppressions sent to the gateway") % {"n": report.pushed},
    ]
    if report.refused:
        lines.append(_("  refused:  %(numbers)s") % {"numbers": ", ".join(report.refused[:10])})
    return lines


def alias_lines(aliases: list[Any], default_sender: str) -> list[str]:
    """What ``--aliases`` prints: one line per alias (text, state, id), the default
    sender marked, and a warning when it is not a confirmed alias."""
    if not aliases:
        lines = [_("The account has no sender alias.")]
    else:
        width = max(len(a.alias) for a in aliases)
        lines = [
            f"{a.alias:<{width}}  {a.state if a.state is not None else '?'}  "
            f"{_(a.state_label)}"
            + (f"  (id {a.id})" if a.id else "")
            + ("  <- DEFAULT_SENDER" if a.alias == default_sender else "")
            for a in aliases
        ]
    is_alias = bool(default_sender) and not default_sender.lstrip("+").isdigit()
    if is_alias and not any(a.alias == default_sender and a.confirmed for a in aliases):
        lines.append(
            _(
                "Warning: DEFAULT_SENDER %(sender)r is not a confirmed alias; the gateway "
                "sends it as a numeric sender."
            )
            % {"sender": default_sender}
        )
    return lines
