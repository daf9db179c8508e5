"""The brand presets: what differs between the resellers of the same REST platform, the
base URL and the message-type codes (smSend, Mobyt and Aruba use ``N``/``L``/``LL``, Skebby
``GP``/``TI``/``SI``). Plain data, no Django: the sandbox reads it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BRANDS", "Brand", "MessageType"]


@dataclass(frozen=True)
class MessageType:
    """One message type ("quality") a brand sells.

    ``delivery_report``: the gateway reports handset delivery (WAIT4DLVR -> DLVRD); for the
    other types SENT is the last state. ``custom_sender``: a ``sender`` may be given; for
    the others it must be empty. ``max_segments``: a hard cap for this type (the low-cost
    types are single-part, 160 GSM characters); ``None`` means the global limit applies.
    """

    code: str
    label: str
    delivery_report: bool
    custom_sender: bool
    max_segments: int | None = None

    @property
    def verbose_label(self) -> str:
        """:attr:`label` in the active language (the built-in labels are in the catalog; a
        project's own label is shown as written). Django is imported here, on use, so that
        the module stays importable without settings (the sandbox reads the brands)."""
        from django.utils.translation import gettext

        return gettext(self.label)


@dataclass(frozen=True)
class Brand:
    """A reseller of the same REST platform: where it lives and what its type codes are."""

    name: str
    label: str
    base_url: str
    message_types: Mapping[str, MessageType]
    default_message_type: str


def _(text: str) -> str:
    # Marks the labels for makemessages; MessageType.verbose_label translates them on use.
    return text


def _types(*types: MessageType) -> dict[str, MessageType]:
    return {t.code: t for t in types}


_SMSEND_TYPES = _types(
    MessageType(
        "N", _("High quality (delivery report)"), delivery_report=True, custom_sender=True
    ),
    MessageType("L", _("Medium quality"), delivery_report=False, custom_sender=True),
    MessageType("LL", _("Low cost"), delivery_report=False, custom_sender=False, max_segments=1),
)

BRANDS: Mapping[str, Brand] = {
    "smsend": Brand(
        "smsend",
        "smSend",
        "https://app.gateway.smsend.it/API/v1.0/REST/",
        _SMSEND_TYPES,
        "N",
    ),
    "mobyt": Brand("mobyt", "Mobyt", "https://app.mobyt.it/API/v1.0/REST/", _SMSEND_TYPES, "N"),
    "aruba": Brand(
        "aruba", "Aruba", "https://smspanel.aruba.it/API/v1.0/REST/", _SMSEND_TYPES, "N"
    ),
    "skebby": Brand(
        "skebby",
        "Skebby",
        "https://api.skebby.it/API/v1.0/REST/",
        _types(
            MessageType(
                "GP", _("Classic+ (delivery report)"), delivery_report=True, custom_sender=True
            ),
            MessageType("TI", _("Classic"), delivery_report=False, custom_sender=True),
            MessageType(
                "SI", _("Basic"), delivery_report=False, custom_sender=False, max_segments=1
            ),
        ),
        "GP",
    ),
}
