"""Italian everywhere (issue 24 item 1): with Italian active, every page of the admin and
every line the command prints is Italian. The example project's pages have the same test
in ``example_project/tests/test_italian.py`` (with :func:`english_in`, shared from here).

Two nets, so that a string nobody marked is caught as well as one marked and not
translated:

* every English source string of the catalogs (two words or more, whose translation
  differs) must be absent from the text a person reads;
* English words that our strings use and Italian never does ("to", "the", "recipient",
  "credits", ...) must be absent too, and so must the English plural trick "(s)".
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterable, Iterator
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

import django_smsrest
from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.models import ReceivedSms, SmsMessage

CATALOG = Path(django_smsrest.__file__).parent / "locale" / "it" / "LC_MESSAGES" / "django.mo"
NUMBER = "+393471234567"
ITALIAN = {"HTTP_ACCEPT_LANGUAGE": "it"}

#: Words of our English strings that are not Italian words (matched whole, any case).
ENGLISH_WORDS = frozenset(
    [
        "to",
        "the",
        "of",
        "and",
        "with",
        "from",
        "sent",
        "recipient",
        "recipients",
        "credit",
        "credits",
        "segment",
        "segments",
        "quality",
        "cost",
        "order",
        "orders",
        "total",
        "remaining",
        "accepted",
        "message",
        "messages",
        "queued",
        "delivered",
        "failed",
        "scheduled",
        "error",
        "errors",
        "left",
        "used",
        "received",
        "group",
        "groups",
    ]
)
#: Django's own admin strings that its Italian catalog lacks (not ours to translate).
DJANGO_UNTRANSLATED = ("Model name", "Add link", "Change or view list link", "Breadcrumbs")


def english_sources(*catalogs: Path) -> set[str]:
    """The English strings of the compiled ``catalogs`` worth looking for: the fixed text
    between placeholders, two words or more, translated to something else (``"SMS"``
    stays ``"SMS"``). (A plural's English plural form is not in a .mo file: the word net
    below catches those.)"""
    found: set[str] = set()
    for path in catalogs:
        with path.open("rb") as fp:
            catalog = gettext.GNUTranslations(fp)._catalog  # type: ignore[attr-defined]
        for key, italian in catalog.items():
            english = key[0] if isinstance(key, tuple) else key
            if not english:
                continue  # the header
            for piece in re.split(r"%\(\w+\)[sdg]|%[sd]|<[^>]+>", english):
                piece = piece.strip(" .:;,·()\n")
                if len(piece.split()) >= 2 and piece not in italian:
                    found.add(piece)
    return found


def visible_text(html: str) -> str:
    """What a person reads: text, plus titles, labels, placeholders and button values."""
    html = re.sub(r"(?s)<(script|style)\b[^>]*>.*?</\1>", " ", html)
    html = re.sub(r"(?s)<!--.*?-->", " ", html)
    attributes = re.findall(r'\s(?:title|aria-label|placeholder|alt)="([^"]*)"', html)
    attributes += re.findall(r'<input[^>]*type="submit"[^>]*value="([^"]*)"', html)
    text = re.sub(r"(?s)<[^>]+>", "\n", html)
    lines = [line.strip() for line in unescape(text).splitlines()] + attributes
    return "\n".join(line for line in lines if line)


def english_in(text: str, sources: Iterable[str], *, ignore: Iterable[str] = ()) -> list[str]:
    """The English found in ``text``: source strings, words, "(s)"."""
    for known in (*DJANGO_UNTRANSLATED, *ignore):
        text = text.replace(known, " ")
    found = sorted(s for s in sources if s in text)
    # All-capital words are the gateway's codes ("SENT", "UNKNRCPT"), shown on purpose.
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", text) if not w.isupper()}
    found += sorted(words & ENGLISH_WORDS)
    if "(s)" in text:
        found.append("(s)")
    return found


@pytest.fixture(scope="module")
def sources() -> set[str]:
    return english_sources(CATALOG)


@pytest.fixture
def italian_admin(db) -> Iterator[Client]:
    locmem.reset()
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    yield client
    locmem.reset()
    translation.deactivate()


def _messages() -> tuple[SmsMessage, SmsMessage]:
    undelivered = services.send_sms("Ciao a tutti", [NUMBER])
    locmem.set_delivery_state("UNKNRCPT")
    services.refresh_status(undelivered)
    later = services.send_sms(
        "Domani", ["+393471234568"], scheduled_delivery_time=timezone.now() + timedelta(days=1)
    )
    services.send_sms("Gruppo", [NUMBER, "+393471234569"])
    ReceivedSms.objects.create(
        gateway_id="r1",
        sender=NUMBER,
        sim="+393400000000",
        text="Risposta",
        received_at=timezone.now(),
    )
    return undelivered, later


def test_admin_pages_are_italian(italian_admin: Client, sources: set[str]) -> None:
    undelivered, later = _messages()
    received = ReceivedSms.objects.get()
    pages = [
        reverse("admin:app_list", args=["django_smsrest"]),
        reverse("admin:django_smsrest_smsmessage_changelist"),
        reverse("admin:django_smsrest_smsmessage_change", args=[undelivered.pk]),
        reverse("admin:django_smsrest_smsmessage_change", args=[later.pk]),
        reverse("admin:django_smsrest_smsmessage_add"),
        reverse("admin:django_smsrest_smsmessage_dashboard"),
        reverse("admin:django_smsrest_smsrecipient_changelist"),
        reverse("admin:django_smsrest_receivedsms_changelist"),
        reverse("admin:django_smsrest_receivedsms_change", args=[received.pk]),
    ]
    user_data = ("Ciao a tutti", "Domani", "Gruppo", "Risposta", "root")
    for url in pages:
        response = italian_admin.get(url, **ITALIAN)
        assert response.status_code == 200, url
        text = visible_text(response.content.decode())
        assert english_in(text, sources, ignore=user_data) == [], url


def test_admin_forms_and_banners_are_italian(italian_admin: Client, sources: set[str]) -> None:
    add = reverse("admin:django_smsrest_smsmessage_add")
    form = {"message": "Ciao " * 40, "recipients": f"{NUMBER}\n+393481234567"}
    preview = italian_admin.post(add, {**form, "message_type": "N", "_preview": "1"}, **ITALIAN)
    sent = italian_admin.post(add, {**form, "message_type": "N"}, follow=True, **ITALIAN)
    later = services.send_sms(
        "Domani", [NUMBER], scheduled_delivery_time=timezone.now() + timedelta(days=1)
    )
    cancelled = italian_admin.post(
        reverse("admin:django_smsrest_smsmessage_cancel", args=[later.pk]), follow=True, **ITALIAN
    )
    for response in (preview, sent, cancelled):
        text = visible_text(response.content.decode())
        found = english_in(text, sources, ignore=("Ciao", "Domani", "root"))
        assert found == [], [line for line in text.splitlines() if any(w in line for w in found)]


def _run(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("send_sms", *args, stdout=out, stderr=err)
    except CommandError as exc:
        err.write(str(exc))
    return out.getvalue() + err.getvalue()


def test_command_output_is_italian(db, sources: set[str]) -> None:
    locmem.reset()
    with translation.override("it"):
        outputs = [
            _run("--to", NUMBER, "--to", "+393481234567", "Ciao"),
            _run("--to", NUMBER, "--dry-run", "Ciao"),
            _run("--flush"),
            _run("--sweep"),
            _run("--refresh"),
            _run("Ciao"),  # no recipient: the hint
            _run("--to", NUMBER, "x" * 2000),  # too long
        ]
        help_text = io.StringIO()
        from django_smsrest.management.commands.send_sms import Command

        help_text.write(Command().create_parser("manage.py", "send_sms").format_help())
    locmem.reset()
    for text in outputs:
        text = re.sub(r"--[\w-]+", " ", text)  # option names stay as typed
        assert english_in(text, sources, ignore=("Ciao",)) == [], text
    # --help: ours is the description and our options (argparse's and Django's common
    # options are theirs); option names and example commands stay as typed.
    full = help_text.getvalue()
    ours = full[full.index("\n\n", full.index("[TEXT]")) : full.index("\noptions:")]
    ours += full[full.index("\n", full.index("  --skip-checks ")) :]
    prose = re.sub(r"--?[\w-]+|send_sms[^\n]*|\$\{\w+\}", " ", ours)
    assert "Invia un SMS" in prose
    # "recipient" is the CSV column's name, typed as is.
    assert english_in(prose, sources, ignore=("Ciao", "“recipient”")) == [], prose


def test_the_nets_catch_english(sources: set[str]) -> None:
    """The checks above would fail on today's English labels."""
    assert english_in("N - High quality (delivery report)", sources)
    assert english_in("SMS n. 2 to 1 (Non consegnato)", sources) == ["to"]
    assert english_in("1 parti SMS · 1 credit(s)", sources)
    assert english_in("Internal order id", sources)
    assert english_in("SMS n. 2 a 1 destinatario (Non consegnato): Ciao", sources) == []
