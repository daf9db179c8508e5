"""One exception hierarchy for the whole app.

The question every caller of the gateway must answer after a failure is *could the order
have been accepted?* The hierarchy answers it by type:

``NotSentError``
    The gateway surely did not accept the order (connection refused, 400, 401 after a
    fresh login, 429). Safe to retry with the same ``order_id`` (when ``retryable``) or
    to fail the message at once (when not).
``MaybeSentError``
    The outcome is unknown (read timeout, 5xx, connection dropped after the request was
    written, a 2xx whose body cannot be read). Never retry blindly: ask
    ``GET sms/{order_id}`` first.

Messages never contain the password, the session key or the login URL (whose query string
carries the password): the client builds every message itself and raises ``from None``
where a library exception would quote the URL.

Configuration errors subclass Django's ``ImproperlyConfigured`` and deliberately *not*
``SmsRestError``, so that no ``except SmsRestError`` meant for gateway trouble can swallow
a broken setup (the same choice django-anymail made).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class SmsRestConfigurationError(ImproperlyConfigured):
    """The ``SMSREST`` settings are missing or wrong; the message names every wrong key.

    ``problems`` (when raised by ``conf.build_settings``) lists them one by one, each with
    its ``key``, for ``manage.py check``.
    """

    problems: list[object]

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.problems = []


class MissingCredentials(SmsRestConfigurationError):
    """``SMSREST['USERNAME']`` and/or ``['PASSWORD']`` are empty and something is about to
    log in to the gateway; ``missing`` lists the empty keys. Raised when the REST backend
    is built, never by ``manage.py check`` without ``--deploy`` (so ``migrate`` runs in a
    build step that has no credentials)."""

    def __init__(self, message: str, *, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = list(missing)


class SmsRestError(Exception):
    """Base class of every runtime error raised by django-smsrest."""


class SendCancelled(SmsRestError):
    """Raised by a ``pre_send`` signal receiver to veto a send; ``reason`` is recorded."""

    def __init__(self, reason: str = "Cancelled by a pre_send receiver") -> None:
        super().__init__(reason)
        self.reason = reason


class GatewayError(SmsRestError):
    """A call to the gateway failed.

    ``status_code`` is the HTTP status when there was a response, ``detail`` the gateway's
    own explanation (already stripped of anything secret), ``retryable`` whether the same
    call may simply be tried again later.
    """

    retryable: bool = False

    def __init__(
        self, message: str, *, status_code: int | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.detail = detail

    def __str__(self) -> str:
        text = self.message
        if self.detail and self.detail not in text:
            text = f"{text}: {self.detail}"
        return text


# --- surely not sent -------------------------------------------------------------------


class NotSentError(GatewayError):
    """The gateway surely did not accept the request."""


class GatewayConnectionError(NotSentError):
    """No connection could be made (DNS, refused, connect timeout, TLS handshake), or the
    login that must precede the call failed in transit (no order was posted)."""

    retryable = True


class AuthenticationError(NotSentError):
    """Login refused (wrong credentials) or a key rejected again right after a fresh login."""


class KeysRefused(AuthenticationError):
    """The login worked, but the keys it returned were refused right away (HTTP 401): a
    session expired or revoked on the gateway's side, not wrong credentials, so the send is
    retried later like a connection error (``retryable``); a wrong password fails at once
    at the login instead."""

    retryable = True


class GatewayRejected(NotSentError):
    """HTTP 400: the gateway refused the request as invalid; ``detail`` says why."""


class RateLimited(NotSentError):
    """HTTP 429: too many requests. ``retry_after`` is in seconds (``None`` if not given)."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = 429,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, detail=detail)
        self.retry_after = retry_after


# --- outcome unknown -------------------------------------------------------------------


class MaybeSentError(GatewayError):
    """The request may have been processed; reconcile with ``GET sms/{order_id}``."""

    retryable = True


class GatewayTimeout(MaybeSentError):
    """The request was sent but no answer came within the read timeout."""


class GatewayServerError(MaybeSentError):
    """HTTP 5xx."""


class ConnectionDropped(MaybeSentError):
    """The connection broke after the request was (at least partly) written."""


class UnexpectedResponse(MaybeSentError):
    """An answer this client does not understand: a body that is not the documented JSON,
    or a status code the API does not document."""


# --- other answers ---------------------------------------------------------------------


class OrderNotFound(GatewayError):
    """HTTP 404 on ``sms/{order_id}``: no such order (or, for DELETE, not cancellable)."""
