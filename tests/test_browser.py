"""The admin in a real browser: Debian's Chromium driven by Selenium against ``live_server``.

Logs in, selects a queued message, runs "Send now", sees its status change, checks the live
segment counter on the add form, and saves screenshots of the changelist, the change page
and the add form to ``artifacts/`` (git-ignored).

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (``apt-get install chromium
chromium-driver``); skipped with that reason otherwise. The driver is given explicitly, so
selenium-manager never downloads anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.models import SmsMessage, Status
from django_smsrest.testing.tasks import DUMMY_TASK_BACKEND

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
NUMBER = "+393471234567"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
        reason=f"needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver",
    ),
]


@pytest.fixture
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: object, condition: object, timeout: float = 10) -> object:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _shot(driver: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"could not save {path}"  # type: ignore[attr-defined]
    assert path.stat().st_size > 1000
    return path


@pytest.mark.django_db(transaction=True)
def test_admin_send_action_in_a_real_browser(browser, live_server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    driver = browser
    locmem.reset()
    User.objects.create_superuser("admin", "admin@example.com", "browser-pw")
    # Queued with a task backend that runs nothing, so the message waits for the action.
    with override_settings(TASKS={"default": {"BACKEND": DUMMY_TASK_BACKEND}}):
        queued = services.queue_sms("Hello from a real browser", [NUMBER])
    services.send_sms("Already sent <b>earlier</b>", ["+393481234567"])
    assert SmsMessage.objects.get(pk=queued.pk).status == Status.QUEUED

    # Log in.
    driver.get(live_server.url + "/admin/login/?next=/admin/django_smsrest/smsmessage/")
    driver.find_element(By.NAME, "username").send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys("browser-pw")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait(driver, ec.presence_of_element_located((By.ID, "changelist")))
    assert "Credits left" in driver.find_element(By.ID, "smsrest-credits").text
    # The text is shown escaped, never as markup.
    assert "Already sent <b>earlier</b>" in driver.find_element(By.ID, "result_list").text
    _shot(driver, "admin-changelist")

    # Select the queued message and run "Send now".
    driver.find_element(
        By.CSS_SELECTOR, f'input[name="_selected_action"][value="{queued.pk}"]'
    ).click()
    Select(driver.find_element(By.NAME, "action")).select_by_value("send_now")
    driver.find_element(By.CSS_SELECTOR, 'button[name="index"]').click()
    _wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li.success")))
    assert "1 message done" in driver.find_element(By.CSS_SELECTOR, "ul.messagelist").text

    row = driver.find_element(
        By.XPATH, f'//input[@name="_selected_action"][@value="{queued.pk}"]/ancestor::tr'
    )
    badge = row.find_element(By.CSS_SELECTOR, ".smsrest-badge")
    assert badge.text == "Sent"
    assert "smsrest-status-sent" in badge.get_attribute("class")
    assert SmsMessage.objects.get(pk=queued.pk).status == Status.SENT
    assert [o.message for o in locmem.outbox].count("Hello from a real browser") == 1
    _shot(driver, "admin-changelist-after-send")

    # The message's page: read-only, with its recipients and the buttons its status allows.
    driver.get(f"{live_server.url}/admin/django_smsrest/smsmessage/{queued.pk}/change/")
    _wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, ".object-tools")))
    tools = driver.find_element(By.CSS_SELECTOR, ".object-tools").text
    assert "REFRESH DELIVERY STATUS" in tools.upper()
    assert "SEND NOW" not in tools.upper()
    assert NUMBER in driver.find_element(By.ID, "content-main").text
    _shot(driver, "admin-change-page")
    driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    _shot(driver, "admin-change-page-inlines")

    # The add form: the live counter follows the text as it is typed.
    driver.get(f"{live_server.url}/admin/django_smsrest/smsmessage/add/")
    counter = _wait(driver, ec.presence_of_element_located((By.ID, "smsrest-live-counter")))
    message = driver.find_element(By.NAME, "message")
    message.send_keys("Ciao " * 40)  # 200 GSM characters: 2 segments
    driver.find_element(By.NAME, "recipients").send_keys(f"{NUMBER}\n+393481234567")
    _wait(driver, lambda d: "2 segment(s)" in counter.text)
    assert "GSM-7" in counter.text
    assert "4 credit(s) for 2 number(s)" in counter.text
    message.send_keys("è…")  # an ellipsis is not GSM-7: the whole text becomes UCS-2
    _wait(driver, lambda d: "UCS-2" in counter.text)
    # The server's numbers after "Preview" agree with the counter.
    driver.find_element(By.NAME, "_preview").click()
    server = _wait(
        driver, ec.presence_of_element_located((By.CSS_SELECTOR, "[data-smsrest-server]"))
    )
    assert "4 segment(s) per recipient" in server.text
    assert "8 credit(s)" in server.text
    assert "4 segment(s)" in driver.find_element(By.ID, "smsrest-live-counter").text
    _shot(driver, "admin-add-form")
    assert SmsMessage.objects.count() == 2  # the preview sent nothing
