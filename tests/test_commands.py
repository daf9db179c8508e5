"""``manage.py send_sms``: arguments, exit codes, and each mode against the locmem gateway."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.exceptions import GatewayConnectionError, GatewayRejected
from django_smsrest.management.commands.send_sms import Command
from django_smsrest.models import SmsMessage, Status
from django_smsrest.testing.tasks import no_task_worker as no_worker

pytestmark = pytest.mark.django_db

NUMBER = "+393471234567"
OTHER = "+393481234567"


@pytest.fixture(autouse=True)
def _clean_gateway():
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the command as ``manage.py send_sms ARGS`` would: (exit code, stdout, stderr)."""
    # run_from_argv closes the DB connections when done; inside a test transaction that
    # would break the test (on PostgreSQL), and it is not what is under test.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)

    def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = 0
        try:
            Command().run_from_argv(["manage.py", "send_sms", *argv])
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# --- sending one message ----------------------------------------------------------------


def test_send_now(cli) -> None:
    code, out, _err = cli("--to", NUMBER, "Hello from the shell")
    assert code == 0
    msg = SmsMessage.objects.get()
    assert msg.status == Status.SENT
    assert f"SMS #{msg.pk} to 1 recipient: Sent" in out
    assert [o.message for o in locmem.outbox] == ["Hello from the shell"]


def test_to_is_repeatable_and_comma_separated(cli) -> None:
    code, _out, _err = cli("--to", f"{NUMBER},348 123 4567", "--to", "+393491234567", "Hi")
    assert code == 0
    assert sorted(locmem.outbox[0].recipients) == sorted([NUMBER, OTHER, "+393491234567"])


def test_text_from_stdin(cli) -> None:
    code, _out, _err = cli("--to", NUMBER, "-", stdin="line one\nline two\n")
    assert code == 0
    assert SmsMessage.objects.get().message == "line one\nline two"


def test_text_from_stdin_with_call_command() -> None:
    call_command(
        "send_sms", "--to", NUMBER, "-", stdin=io.StringIO("piped\n"), stdout=io.StringIO()
    )
    assert SmsMessage.objects.get().message == "piped"


def test_dry_run_prints_the_cost_and_sends_nothing(cli) -> None:
    code, out, _err = cli("--to", NUMBER, "--to", OTHER, "--dry-run", "x" * 161)
    assert code == 0
    assert "Dry run: nothing was sent." in out
    assert "GSM-7" in out
    assert "segments:    2 per recipient" in out
    assert f"recipients:  2 ({NUMBER}, {OTHER})" in out
    assert "credits:     4" in out
    assert SmsMessage.objects.count() == 0
    assert locmem.outbox == []


def test_dry_run_ucs2(cli) -> None:
    code, out, _err = cli("--to", NUMBER, "--dry-run", "Perché “no”?")
    assert code == 0
    assert "UCS-2" in out


def test_queue_stores_for_the_worker(cli) -> None:
    with no_worker:
        code, out, _err = cli("--to", NUMBER, "--queue", "later")
    assert code == 0
    assert SmsMessage.objects.get().status == Status.QUEUED
    assert locmem.outbox == []
    assert "the task worker will send it" in out


def _in_60_days() -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.localdate() + timedelta(days=60)).isoformat()


def test_at_naive_is_read_in_the_project_time_zone(cli) -> None:
    day = _in_60_days()
    code, _out, _err = cli("--to", NUMBER, "--at", f"{day}T09:30", "scheduled")
    assert code == 0
    msg = SmsMessage.objects.get()
    assert msg.scheduled_delivery_time == datetime.fromisoformat(f"{day}T09:30").replace(
        tzinfo=ZoneInfo("Europe/Rome")
    )
    assert msg.status == Status.SCHEDULED


def test_at_with_offset_is_kept(cli) -> None:
    day = _in_60_days()
    code, _out, _err = cli("--to", NUMBER, "--at", f"{day} 09:30:00+00:00", "utc")
    assert code == 0
    msg = SmsMessage.objects.get()
    assert msg.scheduled_delivery_time == datetime.fromisoformat(f"{day}T09:30+00:00")


# --- bad arguments: exit 2, a clear message, nothing written ----------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--to", NUMBER, "--at", "tomorrow", "Hi"], "--at 'tomorrow' is not an ISO 8601"),
        (["--to", NUMBER, "--at", "2030-01-31", "Hi"], "has no time of day"),
        (["--to", NUMBER, "--at", "2001-01-01T10:00", "Hi"], "--at: "),
        (["--to", "+39 123", "Hi"], "--to: "),
        (["--to", NUMBER, ""], "TEXT: "),
        (["--to", NUMBER, "--type", "XX", "Hi"], "--type: "),
        (["Hi"], "give at least one recipient with --to"),
        (["--to", NUMBER], "give the message text"),
        (["--flush", "--to", NUMBER], "--to cannot be combined with --flush"),
        (["--credits", "Hi"], "TEXT cannot be combined with --credits"),
        (["--limit", "3", "--to", NUMBER, "Hi"], "--limit only applies to --flush"),
        (["--flush", "--limit", "0"], "--limit must be at least 1"),
        (["--to", NUMBER, "--queue", "--dry-run", "Hi"], "--queue and --dry-run exclude"),
        # argparse's own errors exit 2 as well
        (["--flush", "--sweep"], "not allowed with argument"),
        (["--flush", "--limit", "many"], "invalid int value"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(cli, argv, expected) -> None:
    code, out, err = cli(*argv)
    assert code == 2, (out, err)
    assert expected in err
    assert SmsMessage.objects.count() == 0
    assert locmem.outbox == []


def test_validation_lists_every_problem(cli) -> None:
    code, _out, err = cli("--to", "+39 123", "--to", "nope", "--type", "XX", "")
    assert code == 2
    assert err.count("--to: ") == 2
    assert "TEXT: " in err and "--type: " in err


def test_call_command_raises_command_error_with_returncode_2() -> None:
    with pytest.raises(CommandError) as exc:
        call_command("send_sms", "--to", "+39 123", "Hi")
    assert exc.value.returncode == 2


def test_gateway_refusal_exits_1(cli) -> None:
    locmem.fail_next("send", GatewayRejected("Gateway refused the order", status_code=400))
    code, _out, err = cli("--to", NUMBER, "Hi")
    assert code == 1
    msg = SmsMessage.objects.get()
    assert msg.status == Status.FAILED
    assert f"SMS #{msg.pk} failed" in err


def test_gateway_unreachable_exits_1_with_the_reason(cli) -> None:
    locmem.fail_next("send", GatewayConnectionError("Could not connect to the gateway"))
    code, out, err = cli("--to", NUMBER, "Hi")
    assert code == 1
    msg = SmsMessage.objects.get()
    assert msg.status == Status.QUEUED
    assert "Could not connect to the gateway" in err
    assert f"SMS #{msg.pk} was not sent yet" in err
    assert "Queued" in out  # the line says what the row is, in the warning colour


def test_invalid_utf8_on_stdin_exits_2(cli, monkeypatch) -> None:
    raw = io.TextIOWrapper(io.BytesIO(b"caf\xe9\n"), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", raw)
    code, _out, err = cli("--to", NUMBER, "-")
    assert code == 2
    assert "not valid UTF-8" in err
    assert "Traceback" not in err
    assert not SmsMessage.objects.exists()


def test_loop_sweeps_until_sigterm(cli, monkeypatch) -> None:
    import os
    import signal
    import threading

    sweeps: list[int] = []

    def fake_sweep():
        sweeps.append(1)
        if len(sweeps) == 3:
            # What a process manager does: the loop must finish the sweep and stop.
            threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGTERM)).start()
        return services.SweepReport()

    monkeypatch.setattr(services, "sweep", fake_sweep)
    before = signal.getsignal(signal.SIGTERM)
    code, out, _err = cli("--loop", "--interval", "0.05")
    assert code == 0
    assert len(sweeps) == 3
    assert out.splitlines()[0].startswith("Sweeping every 0.05s")
    assert out.splitlines()[-1] == "Stopped."
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored


def test_loop_goes_on_after_a_failing_sweep(cli, monkeypatch) -> None:
    import os
    import signal
    import threading

    calls: list[int] = []

    def failing_sweep():
        calls.append(1)
        if len(calls) == 2:
            threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT)).start()
        return services.SweepReport(errors=1)

    monkeypatch.setattr(services, "sweep", failing_sweep)
    code, _out, err = cli("--loop", "--interval", "0.05")
    assert code == 0
    assert len(calls) == 2
    assert err.count("Sweep finished with 1 error;") == 2


@pytest.mark.parametrize("interval", ["0", "-1", "nan"])
def test_loop_interval_must_be_positive(cli, interval) -> None:
    code, _out, err = cli("--loop", "--interval", interval)
    assert code == 2
    assert "--interval must be a positive number of seconds" in err


# --- the outbox -------------------------------------------------------------------------


def _queue(text: str) -> SmsMessage:
    with no_worker:
        return services.queue_sms(text, [NUMBER])


def test_flush_sends_the_due_queue(cli) -> None:
    first, second = _queue("one"), _queue("two")
    code, out, _err = cli("--flush")
    assert code == 0
    assert "Flushed the queue: 2 sent." in out
    assert {m.status for m in SmsMessage.objects.filter(pk__in=[first.pk, second.pk])} == {
        Status.SENT
    }


def test_flush_exits_1_when_a_message_failed(cli) -> None:
    _queue("one")
    _queue("two")
    locmem.fail_next("send", GatewayRejected("Sender not allowed", status_code=400))
    code, out, err = cli("--flush")
    assert code == 1
    assert "1 failed" in out and "1 sent" in out
    assert "1 message failed" in err


def test_flush_limit_and_quiet(cli) -> None:
    for i in range(3):
        _queue(f"m{i}")
    code, out, _err = cli("--flush", "--limit", "2", "--quiet")
    assert code == 0
    assert out == ""
    assert SmsMessage.objects.filter(status=Status.SENT).count() == 2
    assert SmsMessage.objects.filter(status=Status.QUEUED).count() == 1


def test_flush_without_terminal_shows_no_progress_bar(cli) -> None:
    _queue("one")
    code, out, err = cli("--flush")
    assert code == 0
    assert "sms/s" not in out + err and "\r" not in out + err


def test_sweep_sends_what_a_lost_hint_left_behind(cli, django_capture_on_commit_callbacks) -> None:
    msg = _queue("lost hint")
    # The sweep re-enqueues the send task on commit; the ImmediateBackend then runs it.
    with django_capture_on_commit_callbacks(execute=True):
        code, out, _err = cli("--sweep")
    assert code == 0
    assert out.startswith("Sweep: ")
    msg.refresh_from_db()
    assert msg.status == Status.SENT


def test_sweep_exits_1_and_burns_nothing_when_the_gateway_is_unreachable(cli, monkeypatch) -> None:
    for i in range(20):
        _queue(f"m{i}")

    def black_hole(self, order):
        raise GatewayConnectionError("Could not connect to the gateway")

    monkeypatch.setattr(locmem.LocmemBackend, "send", black_hole)
    code, out, err = cli("--sweep")
    assert code == 1
    assert "The sweep stopped sending" in err
    assert "3 back in the queue" in out
    assert "3 messages could not be sent: the gateway is unreachable" in err
    assert set(SmsMessage.objects.values_list("attempts", flat=True)) == {0}


def test_refresh_records_due_delivery_states(cli) -> None:
    msg = services.send_sms("track", [NUMBER])
    locmem.set_delivery_state("DLVRD")
    # Make its status check due now (normally it is planned a minute after sending).
    SmsMessage.objects.filter(pk=msg.pk).update(next_status_check_at=msg.created_at)
    code, out, _err = cli("--refresh")
    assert code == 0
    assert "Delivery states refreshed: 1" in out
    msg.refresh_from_db()
    assert msg.status == Status.DELIVERED


def test_credits_prints_each_type(cli) -> None:
    code, out, _err = cli("--credits")
    assert code == 0
    lines = dict(line.split("\t") for line in out.strip().splitlines())
    assert lines and all(value.strip("-").isdigit() or "." in value for value in lines.values())


def test_help_documents_every_mode(cli) -> None:
    code, out, _err = cli("--help")
    assert code == 0
    for text in ("--flush", "--sweep", "--refresh", "--credits", "--dry-run", "Exit status"):
        assert text in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_flush_on_a_terminal_shows_a_progress_bar() -> None:
    pytest.importorskip("tqdm")
    for i in range(3):
        _queue(f"m{i}")
    out = _Terminal()
    call_command("send_sms", "--flush", stdout=out)
    text = out.getvalue()
    # tqdm draws the bar (it redraws at most every 0.1 s, so only its start is certain).
    assert "Sending:" in text and "/3 [" in text
    assert "Flushed the queue: 3 sent." in text


def test_flush_quiet_on_a_terminal_prints_nothing() -> None:
    _queue("m")
    out = _Terminal()
    call_command("send_sms", "--flush", "--quiet", stdout=out)
    assert out.getvalue() == ""
    assert SmsMessage.objects.get().status == Status.SENT
