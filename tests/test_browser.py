"""The admin in a real browser: Debian's Chromium driven by Selenium against ``live_server``.

Logs in, selects a queued message, runs "Send now", sees its status change, checks the live
segment counter on the add form, and saves screenshots of the changelist, the change page
and the add form to ``artifacts/`` (git-ignored). The dashboard test seeds a month of
messages, checks every chart is drawn and every failure-reason link filters the changelist,
and takes the README's pictures; ``SMSREST_UPDATE_SCREENSHOTS=1`` writes them to ``docs/``.

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (``apt-get install chromium
chromium-driver``); skipped with that reason otherwise. The driver is given explicitly, so
selenium-manager never downloads anything.
"""

from __future__ import annotations

import contextlib
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
DOCS = Path(__file__).resolve().parent.parent / "docs"
#: The README's pictures stay small.
MAX_PICTURE_BYTES = 300_000
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
    _wait(driver, lambda d: "2 segments" in counter.text)
    assert "GSM-7" in counter.text
    assert "about 4 credits for 2 numbers" in counter.text
    message.send_keys("è…")  # an ellipsis is not GSM-7: the whole text becomes UCS-2
    _wait(driver, lambda d: "UCS-2" in counter.text)
    # The server's numbers after "Preview" agree with the counter.
    driver.find_element(By.NAME, "_preview").click()
    server = _wait(
        driver, ec.presence_of_element_located((By.CSS_SELECTOR, "[data-smsrest-server]"))
    )
    assert "4 segments per recipient" in server.text
    assert "8 credits" in server.text
    assert "4 segments" in driver.find_element(By.ID, "smsrest-live-counter").text
    _shot(driver, "admin-add-form")
    assert SmsMessage.objects.count() == 2  # the preview sent nothing


def _fits(driver: object, *scrollers: str) -> None:
    """No horizontal scrolling: neither the page nor the given scrolling boxes (Django
    wraps the changelist's table in ``.results``, which scrolls sideways when it overflows)
    are wider than what shows. At the window's current size (the pictures' 1280 px)."""
    script = """
        const boxes = [document.documentElement,
                       ...arguments[0].map(s => document.querySelector(s))];
        return boxes.map(b => b ? [b.scrollWidth, b.clientWidth] : null);
    """
    sizes = driver.execute_script(script, list(scrollers))  # type: ignore[attr-defined]
    for name, size in zip(["page", *scrollers], sizes, strict=True):
        assert size is not None, f"{name} is not on the page"
        assert size[0] <= size[1], f"{name} scrolls sideways: {size[0]} px in {size[1]} px"


def _login(driver: object, live_server: object, next_url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{live_server.url}/admin/login/?next={next_url}")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "username").send_keys("admin")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "password").send_keys("browser-pw")  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()  # type: ignore[attr-defined]


def _picture(driver: object, name: str, *, full_page: bool = False) -> Path:
    """A screenshot 1280 px wide (the whole page when ``full_page``); copied to ``docs/``
    when ``SMSREST_UPDATE_SCREENSHOTS=1``. Checked to stay under MAX_PICTURE_BYTES."""
    height = 900
    if full_page:
        height = min(
            int(driver.execute_script("return document.documentElement.scrollHeight")),  # type: ignore[attr-defined]
            3000,
        )
    driver.set_window_size(1280, height + 140)  # type: ignore[attr-defined]
    width = driver.execute_script("return window.innerWidth")  # type: ignore[attr-defined]
    driver.set_window_size(1280 + (1280 - width), height + 140)  # type: ignore[attr-defined]
    path = _shot(driver, name)
    assert path.stat().st_size < MAX_PICTURE_BYTES, f"{path} is {path.stat().st_size} bytes"
    if os.environ.get("SMSREST_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        (DOCS / path.name).write_bytes(path.read_bytes())
    driver.set_window_size(1280, 1000)  # type: ignore[attr-defined]
    return path


@pytest.mark.django_db(transaction=True)
def test_dashboard_charts_and_links_in_a_real_browser(browser, live_server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    from tests.dashboard_seed import REASONS, seed

    driver = browser
    locmem.reset()
    User.objects.create_superuser("admin", "admin@example.com", "browser-pw")
    seed(900)
    # A real message with recipients in three delivery states, for the message page.
    msg = services.send_sms(
        "Your appointment on Monday at 10:30 is confirmed. Reply STOP to opt out.",
        [NUMBER, "+393481234567", "+393491234567"],
        message_type="N",
    )
    locmem.set_delivery_state("DLVRD", to=NUMBER)
    locmem.set_delivery_state("WAIT4DLVR", to="+393481234567")
    locmem.set_delivery_state("UNKNRCPT", to="+393491234567")
    services.refresh_status(msg)

    _login(driver, live_server, "/admin/django_smsrest/smsmessage/dashboard/")
    _wait(driver, ec.presence_of_element_located((By.ID, "smsrest-outcomes")))

    # Each chart is drawn, with marks that carry the data.
    charts = driver.find_elements(By.CSS_SELECTOR, "svg.smsrest-chart")
    assert len(charts) == 3
    for chart in charts:
        assert chart.find_element(By.TAG_NAME, "title").get_attribute("textContent")
        assert chart.find_element(By.TAG_NAME, "desc").get_attribute("textContent")
        marks = chart.find_elements(By.CSS_SELECTOR, ".smsrest-mark")
        assert marks and all(int(m.get_attribute("data-value")) > 0 for m in marks)
        assert chart.size["width"] > 600 and chart.size["height"] > 100
    bars = driver.find_elements(By.CSS_SELECTOR, "svg.smsrest-chart-bars .smsrest-mark")
    assert sum(int(b.get_attribute("data-value")) for b in bars) == SmsMessage.objects.count()
    days = {
        b.find_element(By.TAG_NAME, "title").get_attribute("textContent").split(", ")[0]
        for b in bars
    }
    assert len(days) == 30
    _picture(driver, "admin-dashboard", full_page=True)
    _fits(driver)

    # Every failure reason links to the changelist filtered on it, with as many rows.
    reasons = driver.find_elements(By.CSS_SELECTOR, "svg.smsrest-chart-reasons a.smsrest-reason")
    assert len(reasons) == len(REASONS)
    expected = [
        int(m.get_attribute("data-value"))
        for m in driver.find_elements(By.CSS_SELECTOR, "svg.smsrest-chart-reasons .smsrest-mark")
    ]
    # An SVG <a>'s href property is not a string: read the attribute (a path) itself.
    links = [live_server.url + a.get_dom_attribute("href") for a in reasons]
    for link, count in zip(links, expected, strict=True):
        driver.get(link)
        _wait(driver, ec.presence_of_element_located((By.ID, "changelist")))
        paginator = driver.find_element(By.CSS_SELECTOR, "#changelist .paginator").text
        assert paginator.startswith(f"{count} SMS message"), (link, paginator)
        assert driver.find_elements(By.CSS_SELECTOR, "#changelist-filter li.selected")
        badges = {
            b.text for b in driver.find_elements(By.CSS_SELECTOR, "#result_list .smsrest-badge")
        }
        assert badges <= {"Failed", "Undelivered"}

    # The pictures of the list and of a message's page, at 1280 px with the admin's
    # navigation sidebar open (as a new user sees it): every column shows, in English and
    # in Italian (longer words, longer dates).
    driver.get(f"{live_server.url}/admin/django_smsrest/smsmessage/")
    _wait(driver, ec.presence_of_element_located((By.ID, "result_list")))
    assert driver.find_element(By.ID, "nav-sidebar").is_displayed()
    driver.set_window_size(1280, 1000)
    _fits(driver, "#changelist .results")
    row = driver.find_element(By.CSS_SELECTOR, "#result_list tbody tr")
    preview = row.find_element(By.CSS_SELECTOR, ".smsrest-preview")
    assert preview.size["height"] < 30  # one line, not one word per line
    assert preview.get_attribute("title").startswith("Your appointment on Monday")
    _picture(driver, "admin-changelist")
    _fits(driver, "#changelist .results")
    driver.add_cookie({"name": "django_language", "value": "it"})
    driver.get(f"{live_server.url}/admin/django_smsrest/smsmessage/")
    _wait(driver, ec.presence_of_element_located((By.ID, "result_list")))
    assert "Seleziona messaggio SMS" in driver.find_element(By.ID, "content").text
    _fits(driver, "#changelist .results")
    driver.delete_cookie("django_language")
    driver.get(f"{live_server.url}/admin/django_smsrest/smsmessage/{msg.pk}/change/")
    _wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, ".object-tools")))
    page = driver.find_element(By.ID, "content-main").text
    for label in (
        "Delivered (DLVRD)",
        "Waiting for receipt (WAIT4DLVR)",
        "Unknown recipient (UNKNRCPT)",
    ):
        assert label in page
    _picture(driver, "admin-change-page", full_page=True)
    _fits(driver)


def test_sandbox_page_in_a_real_browser(browser) -> None:
    """The sandbox's own page after a plain, a personalised and a group send, a received
    SMS and some delivery progress: drawn by a real browser, and the README's picture."""
    from selenium.webdriver.common.by import By

    from django_smsrest.client import SmsRestClient
    from django_smsrest.testing.sandbox import run_sandbox

    ada, bob = "+393471234567", "+393471234568"
    with run_sandbox(step=5, seed=1, groups={"clienti": [ada, bob]}) as server:
        conf = server.smsrest_settings()
        client = SmsRestClient(conf["BASE_URL"], conf["USERNAME"], conf["PASSWORD"])
        client.send_sms("Promemoria: domani alle 10", [ada, bob], message_type="N")
        client.send_params(
            "Ciao ${name}, a domani alle ${time}",
            [
                {"recipient": ada, "name": "Ada", "time": "10:00"},
                {"recipient": bob, "name": "Bob", "time": "11:30"},
            ],
            message_type="N",
        )
        client.send_to_groups("Chiuso lunedì", ["clienti"], message_type="N")
        # What makes a table wide: a long word (a link) and an order with many notes.
        client.send_sms(
            "Conferma qui: https://example.com/appuntamenti/conferma?codice=" + "A1B2C3" * 12,
            [ada],
            message_type="N",
        )
        server.configure(error_after_next=1)
        with contextlib.suppress(Exception):
            client.send_sms("Riprova", [ada, bob], message_type="N", order_id="retry-1")
        with contextlib.suppress(Exception):
            client.send_sms("Riprova", [ada, bob], message_type="N", order_id="retry-1")
        server.advance(12)
        browser.get(server.page_url)
        text = browser.find_element(By.TAG_NAME, "body").text
        assert "Ciao Ada, a domani alle 10:00" in text
        assert "Ciao Bob, a domani alle 11:30" in text
        assert "(DLVRD)" in text or "(WAIT4DLVR)" in text or "(SENT)" in text
        browser.set_window_size(1280, 1000)
        _fits(browser)
        _picture(browser, "sandbox-page")
