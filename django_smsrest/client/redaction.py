"""The one secret mask: every text that may reach a message, a log line or the database and
that could quote a secret goes through :func:`redact`.

Two kinds of secret are removed: the values the caller knows (the password, the session key,
the access token, the user key), replaced wherever they appear, and anything that looks like
a credential query parameter (``password=...``, ``session_key=...``, ``token=...``), whose
value is masked even when the caller does not know it (a wrong password, a key that was
already replaced). Plain Python, no Django: the outbox, the client and the sandbox's tests
may all use it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

__all__ = ["DETAIL_MAX", "MASK", "install_urllib3_redaction", "redact", "sanitise"]

#: What a secret is replaced by.
MASK = "***"

#: Default length limit of a redacted text (an exception detail, a ``last_error``).
DETAIL_MAX = 300

SECRET_QUERY_RE = re.compile(
    r"(?i)\b(password|pwd|passwd|session_key|access_token|user_key|token)=[^&\s'\"]*"
)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")


def _reveal(secret: object) -> str:
    # A Secret (django_smsrest.secret) or a plain string; duck-typed so that this module
    # stays importable on its own.
    reveal = getattr(secret, "reveal", None)
    value = reveal() if callable(reveal) else secret
    return value if isinstance(value, str) else ""


def redact(text: str, secrets: Iterable[object] = (), *, limit: int | None = DETAIL_MAX) -> str:
    """``text`` fit for a message or a log line.

    Every value of ``secrets`` (``str`` or :class:`~django_smsrest.secret.Secret`; empty
    ones ignored) and every ``password=...``-like query parameter is replaced by
    :data:`MASK`; control characters and runs of whitespace collapse to one space; the
    result is cut to ``limit`` characters (``None``: no limit) with a trailing "…".
    Longer secrets are replaced first, so a key that contains another is masked whole.
    """
    values = sorted({v for v in map(_reveal, secrets) if v}, key=len, reverse=True)
    for value in values:
        text = text.replace(value, MASK)
    text = SECRET_QUERY_RE.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _CONTROL_RE.sub(" ", text)
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


#: The name the client used before :func:`redact` existed.
sanitise = redact


class RedactCredentials(logging.Filter):
    """Masks ``password=...`` in urllib3's DEBUG lines (it logs ``"GET /login?...``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        if "=" in message and SECRET_QUERY_RE.search(message):
            record.msg = SECRET_QUERY_RE.sub(lambda m: f"{m.group(1)}={MASK}", message)
            record.args = ()
        return True


_install_lock = threading.Lock()
_installed = False


def install_urllib3_redaction() -> None:
    """Add :class:`RedactCredentials` to urllib3's connection-pool logger, once.

    urllib3 logs every request line with its query string at DEBUG; with query-string login
    that line holds the password. Called when the first client is built (not at import).
    """
    global _installed
    with _install_lock:
        if not _installed:
            logging.getLogger("urllib3.connectionpool").addFilter(RedactCredentials())
            _installed = True
