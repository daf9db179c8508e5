"""The example project's two-factor login in a real browser (issue 22, item 10).

The example project runs as it does in ``make demo`` (``manage.py runserver`` in a
subprocess, its own SQLite file) against a sandbox gateway in this process. Chromium logs in
with a password, reads the code on the sandbox's page as a phone would show it, types it and
is in. Then the gateway stops: the token step says the code could not be sent, and once the
code's validity has passed and the gateway is back, the sweep never delivers it.

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` like ``tests/test_browser.py``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_smsrest.testing.sandbox import run_sandbox
from tests.test_browser import CHROMEDRIVER, CHROMIUM, _shot, _wait
from tests.test_browser import browser as browser  # the fixture

REPO = Path(__file__).resolve().parent.parent
MANAGE = REPO / "example_project" / "manage.py"
NUMBER = "+393471234567"
#: The example project's CODE_VALID_SECONDS for this test.
VALID_SECONDS = 4

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
        reason=f"needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _manage(env: dict[str, str], *args: str) -> str:
    """Run ``manage.py`` with the example's settings; the last line it printed."""
    done = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.fixture
def example(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], object]]:
    """The example project on a free port, pointed at a sandbox: (url, env, sandbox)."""
    sandbox = run_sandbox()
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'example.sqlite3'}",
        SMSREST_BASE_URL=sandbox.base_url,
        SMSREST_USERNAME=sandbox.username,
        SMSREST_PASSWORD=sandbox.password,
        SMSREST_CODE_VALID_SECONDS=str(VALID_SECONDS),
        DJANGO_DEBUG="False",
    )
    _manage(env, "migrate", "-v0")
    _manage(env, "ensure_demo_user", "--username", "anna", "--password", "pw", "--phone", NUMBER)
    port = _free_port()
    web = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/account/login/", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert web.poll() is None, "runserver exited"
                assert time.monotonic() < deadline, "runserver did not answer"
                time.sleep(0.2)
        yield url, env, sandbox
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=10)
        sandbox.stop()


def _next(driver: object) -> None:
    """The wizard's "Next" (its first submit button on the token step is "Back")."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "button.btn-primary[type=submit]").click()  # type: ignore[attr-defined]


def _log_in(driver: object, url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(url + "/account/login/")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "auth-username").send_keys("anna")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "auth-password").send_keys("pw")  # type: ignore[attr-defined]
    _next(driver)
    _wait(driver, ec.presence_of_element_located((By.NAME, "token-otp_token")))


def test_two_factor_login_with_a_code_read_on_the_gateway(browser, example) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver = browser
    url, env, sandbox = example

    _log_in(driver, url)
    # The code, as the phone shows it: the sandbox's page lists what it received.
    login_tab = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.get(sandbox.page_url)
    text = driver.find_element(By.TAG_NAME, "table").text
    code = re.search(r"Your login code is (\d{6})", text).group(1)
    driver.close()
    driver.switch_to.window(login_tab)
    driver.find_element(By.NAME, "token-otp_token").send_keys(code)
    _next(driver)
    _wait(driver, ec.presence_of_element_located((By.NAME, "message")))  # the send page
    assert "anna" in driver.find_element(By.TAG_NAME, "header").text
    _shot(driver, "two-factor-logged-in")
    stored = _manage(
        env,
        "shell",
        "-c",
        "from django_smsrest.models import SmsMessage as M; m = M.objects.get();"
        "print(m.status, m.message)",
    )
    assert stored.split()[0] == "sent" and code not in stored and "••••••" in stored

    # The gateway goes away: the next login's code cannot be sent, and the page says so.
    port = int(sandbox.base_url.split(":")[2].split("/")[0])
    sandbox.stop()
    driver.delete_all_cookies()
    _log_in(driver, url)
    notice = driver.find_element(By.CSS_SELECTOR, "ul.messages").text
    assert "could not be sent by SMS right now" in notice
    _shot(driver, "two-factor-code-not-sent")

    # Past its validity, with the gateway back, the sweep never sends it.
    time.sleep(VALID_SECONDS + 1)
    with run_sandbox(port=port) as back:
        env = {**env, "SMSREST_BASE_URL": back.base_url}
        _manage(env, "send_sms", "--sweep")
        assert back.snapshot()["posts_total"] == 0
    last = _manage(
        env,
        "shell",
        "-c",
        "from django_smsrest.models import SmsMessage as M; m = M.objects.latest('pk');"
        "print(m.status, '|', m.last_error)",
    )
    assert last == "expired | The login code expired before it could be sent."
