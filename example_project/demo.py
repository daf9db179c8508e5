"""``make demo``: the example project and the sandbox gateway, running together.

What it does, in order:

1. starts the sandbox gateway (``python -m django_smsrest.sandbox``) on port 8765, or on a
   free port if 8765 is taken, and reads the base URL it prints; when it moved, it says so
   loudly, with the ``export SMSREST_BASE_URL=...`` line another shell needs;
2. migrates the example project's SQLite database and creates the demo superuser;
3. starts the example project (``manage.py runserver --noreload``) on port 8000 or the next
   free one, with ``SMSREST_BASE_URL`` pointing at the sandbox;
4. starts the background worker, as production runs it: ``manage.py send_sms --loop``
   (every few seconds: send what is queued or due for a retry, settle unknown outcomes,
   refresh delivery states), so that messages move on to DELIVERED in the admin too;
5. waits until the web and the sandbox answer, then sends a first SMS through the real
   HTTP path with ``manage.py send_sms`` and prints where to look;
6. runs until Ctrl-C or SIGTERM, then stops the three children (their whole process
   groups), so no process is left behind.

``--check`` does all of that with a throw-away database, also logs into the example page
and sends an SMS through the web form, verifies that both messages reached the sandbox
exactly once, that the worker alone took the first one to DELIVERED, and that the example
page stops reloading once its message is final; it exits 0 (1 on any failure): the
end-to-end test of the demo.

Only the standard library is used here; the children run with this same interpreter.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MANAGE = HERE / "manage.py"
PYTHON = sys.executable

SANDBOX_PORT = 8765
WEB_PORT = 8000
DEMO_USER = ("demo", "demo")
DEMO_NUMBER = "+393471234567"
FIRST_SMS = "Hello from django-smsrest"
STARTUP_TIMEOUT = 30.0
#: Seconds between two sweeps of the demo's worker (production's default is 5).
WORKER_INTERVAL = 2
#: First delivery-state check this many seconds after sending (the sandbox delivers in
#: about 3 s; the default, 60, suits a real gateway).
STATUS_POLL_BASE_SECONDS = "2"
#: How long ``--check`` waits for a message to be delivered.
DELIVERY_TIMEOUT = 45.0


class DemoError(Exception):
    """Something the user should read; printed without a traceback."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server can listen on ``port``: bound as the sandbox and runserver bind
    (``SO_REUSEADDR``, as ``http.server`` does), so that a port whose last connections
    linger in TIME_WAIT counts as free, as it is for them."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port_from(start: int, attempts: int = 20) -> int:
    """``start`` or the next free port after it; 0 (let the OS pick) if none is free."""
    for port in range(start, start + attempts):
        if port_is_free(port):
            return port
    return 0


class Children:
    """The child processes, each in its own process group, stopped together."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[str]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Own process group: Ctrl-C reaches only us, and we stop each child with its
            # descendants (runserver may spawn some) in one killpg.
            start_new_session=True,
        )
        self.procs.append((name, proc))
        return proc

    def discard(self, proc: subprocess.Popen[str]) -> None:
        """Stop ``proc`` (one that failed to start) and forget it."""
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        self.procs = [(name, p) for name, p in self.procs if p is not proc]

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise DemoError(f"the {name} stopped unexpectedly (exit status {proc.returncode})")

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


def drain(
    proc: subprocess.Popen[str],
    prefix: str,
    echo: bool,
    boring: Callable[[str], bool] = lambda line: False,
) -> None:
    """Forward a child's output (or discard it) so its pipe never fills up; lines for which
    ``boring`` is true are not shown."""

    def pump(stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            if echo and not boring(line):
                sys.stderr.write(f"{prefix} {line}")

    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            threading.Thread(target=pump, args=(stream,), daemon=True).start()


def start_sandbox(children: Children, env: dict[str, str]) -> str:
    port = SANDBOX_PORT if port_is_free(SANDBOX_PORT) else 0
    try:
        return _start_sandbox_on(port, children, env)
    except DemoError:
        if port == 0:
            raise
        # 8765 was taken between the check and the bind (another demo starting): let the
        # system pick a free port instead.
        return _start_sandbox_on(0, children, env)


def moved_notice(base_url: str, wanted: int = SANDBOX_PORT) -> str:
    """Empty when the sandbox listens on ``wanted``; otherwise a notice that cannot be
    missed, with the line that commands in another shell need to reach it (the project
    reads ``SMSREST_BASE_URL``; without it they would talk to port ``wanted``)."""
    port = urllib.parse.urlsplit(base_url).port
    if port == wanted:
        return ""
    rule = "!" * 78
    return (
        f"\n{rule}\n"
        f"!! Port {wanted} is taken by another program: the sandbox listens on port {port}.\n"
        "!! In another shell, run this before any manage.py command of the demo:\n"
        f"\n    export SMSREST_BASE_URL={base_url}\n\n"
        f"{rule}\n"
    )


def _start_sandbox_on(port: int, children: Children, env: dict[str, str]) -> str:
    proc = children.start(
        "sandbox", [PYTHON, "-m", "django_smsrest.sandbox", "--port", str(port)], env
    )
    assert proc.stdout is not None
    # The sandbox prints exactly one line, its base URL, once it listens.
    line = _readline_with_timeout(proc, STARTUP_TIMEOUT)
    if not line.startswith("http"):
        err = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
        children.discard(proc)
        raise DemoError(f"the sandbox did not start: {line.strip() or err.strip()}")
    return line.strip()


def _readline_with_timeout(proc: subprocess.Popen[str], timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(
        target=lambda: result.append(proc.stdout.readline() if proc.stdout else ""), daemon=True
    )
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""


def manage(
    *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [PYTHON, str(MANAGE), *args], env=env, cwd=REPO, capture_output=True, text=True
    )
    if check and done.returncode != 0:
        raise DemoError(
            f"manage.py {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout}{done.stderr}".rstrip()
        )
    return done


def wait_http(url: str, children: Children, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        children.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise DemoError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.2)


def sandbox_orders(sandbox_root: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(sandbox_root + "_sandbox/orders", timeout=5) as resp:
        return list(json.load(resp)["orders"])


def worker_argv() -> list[str]:
    """The background worker, the command production runs (under systemd, supervisor…)."""
    return [PYTHON, str(MANAGE), "send_sms", "--loop", "--interval", str(WORKER_INTERVAL)]


def idle_sweep(line: str) -> bool:
    """A sweep that found nothing to do (every count 0): not worth a line every 2 s."""
    return line.startswith("Sweep:") and re.search(r"[1-9]", line) is None


def start_worker(children: Children, env: dict[str, str], echo: bool) -> None:
    proc = children.start("worker", worker_argv(), env)
    drain(proc, "[worker]", echo=echo, boring=idle_sweep)


def message_status(pk: int, env: dict[str, str]) -> str:
    """The status of SMS ``pk``, as the database has it (asked through ``manage.py``)."""
    code = (
        "from django_smsrest.models import SmsMessage; "
        f"print(SmsMessage.objects.get(pk={pk}).status)"
    )
    lines = manage("shell", "-c", code, env=env).stdout.strip().splitlines()
    # (Django >= 5.2's shell may first print a line about its automatic imports.)
    return lines[-1] if lines else ""


def wait_delivered(pk: int, env: dict[str, str], children: Children) -> float:
    """Wait until the worker has taken SMS ``pk`` to DELIVERED; return the seconds it took."""
    start = time.monotonic()
    status = ""
    while time.monotonic() - start < DELIVERY_TIMEOUT:
        children.check_alive()
        status = message_status(pk, env)
        if status == "delivered":
            return time.monotonic() - start
        time.sleep(1)
    raise DemoError(
        f"SMS #{pk} was still {status!r} after {DELIVERY_TIMEOUT:.0f} s: "
        "the worker did not take it to DELIVERED"
    )


class WebUser:
    """The demo user in a browser-like session (cookies, CSRF) on the example page."""

    def __init__(self, web: str) -> None:
        self.web = web
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, url: str) -> tuple[str, str]:
        with self.opener.open(url, timeout=30) as resp:
            return resp.geturl(), resp.read().decode()

    def post(self, url: str, fields: dict[str, str]) -> tuple[str, str]:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(url, data=data, headers={"Referer": url})
        with self.opener.open(request, timeout=30) as resp:
            return resp.geturl(), resp.read().decode()

    @staticmethod
    def csrf_from(html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if not match:
            raise DemoError("no CSRF token in the page")
        return match.group(1)

    def send(self, text: str) -> str:
        """Log in and post the example page's form; return the status page's URL."""
        login = self.web + "accounts/login/"
        _url, html = self.get(login)
        fields = {"username": DEMO_USER[0], "password": DEMO_USER[1]}
        url, html = self.post(login, {**fields, "csrfmiddlewaretoken": self.csrf_from(html)})
        fields = {
            "message": text,
            "recipients": DEMO_NUMBER,
            "message_type": "N",
            "csrfmiddlewaretoken": self.csrf_from(html),
        }
        url, html = self.post(url, fields)
        if "/sms/" not in url:
            raise DemoError(f"the example page did not send the SMS (ended at {url})")
        return url

    def wait_final(self, url: str) -> str:
        """Reload the status page, as the browser would, until it stops reloading itself;
        return the status it shows then."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        html = ""
        while time.monotonic() < deadline:
            _url, html = self.get(url)
            if 'http-equiv="refresh"' not in html:
                if 'id="sms-final"' not in html:
                    raise DemoError(f"{url} stopped reloading before its status was final")
                match = re.search(r'id="sms-status">([^<]*)<', html)
                return match.group(1).strip() if match else ""
            time.sleep(1)
        raise DemoError(f"{url} was still reloading after {DELIVERY_TIMEOUT:.0f} s")


def run(check: bool) -> int:
    children = Children()
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.setdefault("SMSREST_USERNAME", "sandbox")
    env.setdefault("SMSREST_PASSWORD", "sandbox")
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("SMSREST_STATUS_POLL_BASE_SECONDS", STATUS_POLL_BASE_SECONDS)
    tmp = tempfile.TemporaryDirectory(prefix="smsrest-demo-") if check else None
    if tmp is not None:
        # A throw-away database and no .env surprises: the check must be reproducible.
        env["DATABASE_URL"] = f"sqlite:///{Path(tmp.name) / 'demo.sqlite3'}"
    else:
        env.setdefault("DATABASE_URL", f"sqlite:///{HERE / 'db.sqlite3'}")
    # The sandbox reads its account from the environment (not the process list).
    env["SMSREST_SANDBOX_USERNAME"] = env["SMSREST_USERNAME"]
    env["SMSREST_SANDBOX_PASSWORD"] = env["SMSREST_PASSWORD"]

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    # Ctrl-C stops the demo even when it was started with SIGINT ignored, as a shell
    # without job control starts `cmd &` (seen: `nohup make test &` made the Ctrl-C test
    # hang): Python installs its KeyboardInterrupt handler only where SIGINT is not ignored.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        say("Starting the sandbox gateway…")
        base_url = start_sandbox(children, env)
        env["SMSREST_BASE_URL"] = base_url
        notice = moved_notice(base_url)
        if notice:
            say(notice)
        sandbox_root = base_url.split("API/v1.0/REST/")[0]
        drain(children.procs[-1][1], "[sandbox]", echo=False)

        say("Preparing the database…")
        manage("migrate", "--noinput", env=env)
        say(manage("ensure_demo_user", "--username", DEMO_USER[0], "--password",
                   DEMO_USER[1], env=env).stdout.strip())  # fmt: skip

        web_port = free_port_from(WEB_PORT) or free_port_from(18000)
        web = f"http://127.0.0.1:{web_port}/"
        say(f"Starting the example project on {web} …")
        proc = children.start(
            "example project",
            [PYTHON, str(MANAGE), "runserver", f"127.0.0.1:{web_port}", "--noreload"],
            env,
        )
        drain(proc, "[web]", echo=not check)
        say("Starting the worker: manage.py " + " ".join(worker_argv()[2:]) + " …")
        start_worker(children, env, echo=not check)
        wait_http(sandbox_root + "_sandbox/", children)
        wait_http(web + "accounts/login/", children)

        say(f"Sending a first SMS to {DEMO_NUMBER} through the sandbox…")
        sent = manage("send_sms", "--to", DEMO_NUMBER, FIRST_SMS, env=env)
        say(sent.stdout.strip())

        if check:
            first = re.search(r"SMS #(\d+)", sent.stdout)
            if first is None:
                raise DemoError(f"send_sms did not say which SMS it sent: {sent.stdout!r}")
            user = WebUser(web)
            page = user.send("Hello from the example page")
            say(f"Sent through the web form: {page}")
            texts = [str(o["message"]) for o in sandbox_orders(sandbox_root)]
            for expected in (FIRST_SMS, "Hello from the example page"):
                if texts.count(expected) != 1:
                    raise DemoError(f"the sandbox received {texts!r}, not {expected!r} once")
            say("Both SMS reached the sandbox exactly once.")
            took = wait_delivered(int(first.group(1)), env, children)
            say(f"The worker took SMS #{first.group(1)} to DELIVERED in {took:.1f} s.")
            shown = user.wait_final(page)
            if shown != "Delivered":
                raise DemoError(f"the example page stopped reloading at {shown!r}")
            say("The example page shows Delivered and stopped reloading.")
            say("Check passed: both SMS reached the sandbox exactly once and were delivered.")
            return 0

        say(
            "\nThe demo is running:\n"
            f"  example page   {web}   (log in as {DEMO_USER[0]} / {DEMO_USER[1]})\n"
            f"  admin          {web}admin/django_smsrest/smsmessage/\n"
            f"  sandbox inbox  {sandbox_root}_sandbox/\n"
            f"  gateway API    {base_url}\n"
            f"{notice}"
            "Press Ctrl-C to stop."
        )
        while True:
            children.check_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("\nStopping…")
        return 0
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        children.stop()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        if tmp is not None:
            tmp.cleanup()


def say(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        default=os.environ.get("SMSREST_DEMO_CHECK") == "1",
        help="run end to end, verify the SMS reached the sandbox, and exit (0 = passed)",
    )
    args = parser.parse_args(argv)
    return run(check=args.check)


if __name__ == "__main__":
    sys.exit(main())
