"""Secrets never sit in a traceback frame (issue 13 item 4).

Django's DEBUG technical 500 page (and Sentry, and any reporter that renders locals) shows
the ``repr`` of every local variable of every frame of the traceback. So for each failure
between the settings and the wire (a timezone typo, a CA bundle path that does not exist,
an exception raised inside requests whose frames hold the login URL with the password in
its query string, or the headers with the session key) the page is built from the real
exception and traceback, and searched for the password and the session key, as they are,
HTML-escaped and URL-encoded.
"""

from __future__ import annotations

import socket
import ssl
import sys
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests
from django.test import RequestFactory
from django.utils.html import escape
from django.views.debug import technical_500_response

from django_smsrest.backends.rest import RestBackend, reset_clients
from django_smsrest.client import SmsRestClient
from django_smsrest.conf import get_settings
from django_smsrest.exceptions import (
    GatewayConnectionError,
    GatewayError,
    MaybeSentError,
    NotSentError,
    SmsRestConfigurationError,
)

# Characters that HTML-escaping and URL-encoding change, so each form is really searched.
PASSWORD = "pw-S3cr&t<9>+/x'7"
USER_KEY = "UK-77102"
SESSION_KEY = "SESSION-k3y-5ecret-0a1b2c"


def _forms(secret: str) -> set[str]:
    return {secret, escape(secret), quote(secret), quote_plus(secret), quote(secret, safe="")}


def assert_no_secret(page: str, *secrets: str) -> None:
    for secret in secrets:
        for form in _forms(secret):
            assert form not in page, f"{form!r} (a form of a secret) is in the page"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smsrest(settings: Any) -> Iterator[Callable[..., None]]:
    """Set ``SMSREST`` for the REST backend with ``PASSWORD`` and the given keys."""
    reset_clients()

    def configure(**keys: Any) -> None:
        settings.SMSREST = {
            "BACKEND": "django_smsrest.backends.rest.RestBackend",
            "USERNAME": "acme",
            "PASSWORD": PASSWORD,
            "BASE_URL": f"https://127.0.0.1:{closed_port()}/API/v1.0/REST/",
            "TIMEOUT": (0.5, 0.5),
            **keys,
        }

    yield configure
    reset_clients()


def _refresh_view(request: Any) -> None:
    """What the admin's Refresh does, minus the database: build the backend from the
    settings and ask the gateway about an order."""
    RestBackend(get_settings()).get_order("ord-1")


def debug_page(settings: Any, view: Callable[[Any], None]) -> tuple[BaseException, str]:
    """The exception ``view`` raised and the HTML of the DEBUG page Django renders for it."""
    settings.DEBUG = True
    request = RequestFactory().post("/admin/refresh/", {"text": "Hello"})
    try:
        view(request)
    except Exception as exc:
        page = technical_500_response(request, *sys.exc_info()).content.decode()
        return exc, page
    raise AssertionError("the view did not raise")  # pragma: no cover


def test_timezone_typo_leaves_no_password_in_the_debug_page(settings, smsrest):
    smsrest(GATEWAY_TIMEZONE="Europe/Roma")
    exc, page = debug_page(settings, _refresh_view)
    assert isinstance(exc, SmsRestConfigurationError)
    assert "GATEWAY_TIMEZONE" in str(exc) and "Europe/Roma" in str(exc)
    assert "Europe/Roma" in page  # the page is about the right failure
    assert_no_secret(page, PASSWORD)


def test_missing_ca_bundle_leaves_no_password_in_the_debug_page(settings, smsrest):
    smsrest(VERIFY_TLS="/nonexistent/ca.pem")
    exc, page = debug_page(settings, _refresh_view)
    # Nothing left the machine: requests refused before connecting.
    assert isinstance(exc, GatewayConnectionError), repr(exc)
    assert "VERIFY_TLS" in str(exc) and "/nonexistent/ca.pem" in str(exc)
    assert exc.__context__ is None and exc.__cause__ is None
    assert "requests/adapters.py" not in page  # requests' frames are not in the traceback
    assert_no_secret(page, PASSWORD)


def _fake_send(failure: Callable[[str], BaseException]) -> Callable[..., requests.Response]:
    """An ``HTTPAdapter.send`` that answers the login and fails on any other request
    with ``failure(text)`` where ``text`` quotes the URL and the headers, as library
    messages do; its frame also holds the prepared request (URL and headers) as locals."""

    def send(self: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        headers = dict(request.headers)
        if "/login?" in url:
            response = requests.Response()
            response.status_code = 200
            response._content = f"{USER_KEY};{SESSION_KEY}".encode()
            response.url = url
            response.request = request
            return response
        raise failure(f"cannot send {url} with {headers}")

    return send


FAILURES: dict[str, tuple[Callable[[str], BaseException], type[GatewayError]]] = {
    "OSError": (lambda text: OSError(5, text), MaybeSentError),
    "ValueError": (ValueError, NotSentError),
    "ssl.SSLError": (lambda text: ssl.SSLError(1, text), MaybeSentError),
    "InvalidURL": (requests.exceptions.InvalidURL, NotSentError),
    "InvalidHeader": (requests.exceptions.InvalidHeader, NotSentError),
    "RuntimeError": (RuntimeError, MaybeSentError),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
@pytest.mark.parametrize("stage", ["login", "send"])
def test_exception_inside_requests_leaves_no_secret_in_the_debug_page(
    settings, smsrest, monkeypatch, name, stage
):
    failure, expected = FAILURES[name]
    smsrest()
    if stage == "login":

        def send(self: Any, request: requests.PreparedRequest, **kwargs: Any) -> Any:
            raise failure(f"cannot send {request.url} with {dict(request.headers)}")

    else:
        send = _fake_send(failure)
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)

    def view(request: Any) -> None:
        client = SmsRestClient.from_settings(get_settings())
        client.send_sms("Hello", ["+393471234567"], message_type="N", order_id="ord-1")

    exc, page = debug_page(settings, view)
    if stage == "login":
        # Nothing was posted yet: a failed login is never "maybe sent".
        expected = GatewayConnectionError
    assert isinstance(exc, expected), repr(exc)
    assert name.split(".")[-1] in str(exc)  # the type is named, its text is not quoted
    assert exc.__context__ is None and exc.__cause__ is None
    assert_no_secret(page, PASSWORD, SESSION_KEY)
    assert_no_secret(str(exc) + repr(exc), PASSWORD, SESSION_KEY, "/login?")


def test_settings_and_client_hold_the_password_only_as_a_secret(smsrest):
    smsrest()
    conf = get_settings()
    assert PASSWORD not in repr(conf) and PASSWORD not in str(conf.password)
    assert conf.password.reveal() == PASSWORD
    client = SmsRestClient.from_settings(conf)
    for value in vars(client).values():
        assert not (isinstance(value, str) and PASSWORD in value)


@pytest.mark.parametrize(
    "kwargs", [{"gateway_timezone": "Europe/Roma"}, {"auth": "oauth"}, {"timeout": -1}]
)
def test_client_built_by_hand_with_a_bad_argument_shows_no_password(settings, kwargs):
    """A plain ``str`` password given to the constructor is wrapped before anything can
    raise, so even the constructor's own frame shows a mask."""

    def view(request: Any) -> None:
        SmsRestClient("https://api.example.test/API/v1.0/REST/", "acme", PASSWORD, **kwargs)

    exc, page = debug_page(settings, view)
    assert isinstance(exc, ValueError | SmsRestConfigurationError)
    assert "Secret(&#x27;********&#x27;)" in page or "Secret('********')" in page
    assert_no_secret(page, PASSWORD)
