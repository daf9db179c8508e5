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
from django.utils.translation import ngettext

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
        lead = ngettext(
            "SMS #%(pk)s to the group %(groups)s: %(status)s",
            "SMS #%(pk)s to the groups %(groups)s: %(status)s",
            len(message.groups),
        ) % {
            "pk": message.pk,
            "groups": ", ".join(message.groups),
            "status": message.get_status_display(),
        }
    else:
        lead = ngettext(
            "SMS #%(pk)s to %(count)s recipient: %(status)s",
            "SMS #%(pk)s to %(count)s recipients: %(status)s",
            message.recipient_count,
        ) % {
            "pk": message.pk,
            "count": message.recipient_count,
            "status": message.get_status_display(),
        }
    parts = [
        lead,
        _("order %(order_id)s") % {"order_id": message.order_id},
    ]
    if message.total_sent is not None:
        parts.append(
            ngettext("%(n)s credit used", "%(n)s credits used", message.total_sent)
            % {"n": message.total_sent}
        )
    if message.remaining_credits is not None:
        parts.append(_("%(n)s left") % {"n": message.remaining_credits})
    if queued and message.status == Status.QUEUED:
        # Only said when a worker will: with no worker the attempt already ran, and the
        # caller passes queued=False.
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
            value = _time(value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in sorted(value.items())) or 0
        parts.append(f"{field.name.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def sentence(text: str) -> str:
    """``text`` ending with a full stop, so that another sentence can follow it."""
    text = text.rstrip()
    return text if not text or text[-1] in ".!?…" else f"{text}."


def sweep_line(report: Any) -> str:
    """What one sweep did, in words (a :class:`~django_smsrest.services.SweepReport`):
    ``"Sweep: 2 sent; 1 back in the queue; 3 delivery states checked."``."""
    if report.busy:
        return _("Sweep: another sweep is running; this one did nothing.")
    parts: list[str] = []
    if report.expired_leases:
        parts.append(
            ngettext(
                "%(n)d stalled send recovered",
                "%(n)d stalled sends recovered",
                report.expired_leases,
            )
            % {"n": report.expired_leases}
        )
    for status, n in sorted(report.reconciled.items()):
        parts.append(
            ngettext(
                "%(n)d unknown outcome checked: %(status)s",
                "%(n)d unknown outcomes checked: %(status)s",
                n,
            )
            % {"n": n, "status": _status_label(status)}
        )
    if report.enqueued:
        parts.append(
            ngettext(
                "%(n)d handed to the task worker",
                "%(n)d handed to the task worker",
                report.enqueued,
            )
            % {"n": report.enqueued}
        )
    for status, n in sorted(report.sent.items()):
        if status == Status.QUEUED:
            parts.append(_("%(n)d back in the queue") % {"n": n})
        else:
            parts.append(_("%(n)d sent: %(status)s") % {"n": n, "status": _status_label(status)})
    if report.paused_until is not None:
        parts.append(
            _("sending paused until %(until)s (HTTP 429)") % {"until": _time(report.paused_until)}
        )
    if report.refreshed:
        parts.append(
            ngettext(
                "%(n)d delivery state checked",
                "%(n)d delivery states checked",
                report.refreshed,
            )
            % {"n": report.refreshed}
        )
    if report.received:
        parts.append(
            ngettext("%(n)d SMS received", "%(n)d SMS received", report.received)
            % {"n": report.received}
        )
    if report.errors:
        parts.append(ngettext("%(n)d error", "%(n)d errors", report.errors) % {"n": report.errors})
    if not parts:
        return _("Sweep: nothing to do.")
    return _("Sweep: %(report)s.") % {"report": "; ".join(parts)}


def sweep_failure(report: Any, reasons: list[str]) -> str | None:
    """Why a sweep did not do all it should (the command exits 1 with this), or ``None``.

    ``reasons``: the errors of the messages it put back in the queue (the gateway did not
    take them), newest first."""
    problems: list[str] = []
    back = report.sent.get(Status.QUEUED, 0)
    if back:
        because = sentence(reasons[0]) if reasons else ""
        problems.append(
            ngettext(
                "%(n)d message could not be sent: the gateway is unreachable or asked to "
                "retry later. %(because)s It stays queued and is tried again.",
                "%(n)d messages could not be sent: the gateway is unreachable or asked to "
                "retry later. %(because)s They stay queued and are tried again.",
                back,
            )
            % {"n": back, "because": because}
        )
    if report.stopped_early:
        problems.append(
            _(
                "The sweep stopped sending: the gateway sent several messages in a row "
                "back for a retry (unreachable or rate limiting). The rest stay queued."
            )
        )
    if report.errors:
        problems.append(
            ngettext(
                "Sweep finished with %(n)s error; see the logs.",
                "Sweep finished with %(n)s errors; see the logs.",
                report.errors,
            )
            % {"n": report.errors}
        )
    return " ".join(" ".join(p.split()) for p in problems) or None


def _status_label(value: str) -> str:
    try:
        return str(Status(value).label).lower()
    except ValueError:
        return value


def _time(value: datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


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
