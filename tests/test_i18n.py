"""The Italian translation: the admin, the service errors, the command and the JS counter
speak Italian when Italian is active, and the shipped catalogs are complete and compiled.

The admin tests go through ``LocaleMiddleware`` (tests/settings.py) with an
``Accept-Language: it`` header, as a browser set to Italian would; ``LANGUAGE_CODE`` stays
``"en"``, so each test also shows the English text is what the page had without it.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

import django_smsrest
from django_smsrest import services
from django_smsrest.backends import locmem
from django_smsrest.management.commands.send_sms import Command
from django_smsrest.models import SmsMessage, Status

LOCALE = Path(django_smsrest.__file__).parent / "locale"
CATALOGS = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
#: The example project's own catalog (its pages), checked the same way.
EXAMPLE_LOCALE = LOCALE.parent.parent / "example_project" / "locale"
ALL_CATALOGS = CATALOGS + sorted(EXAMPLE_LOCALE.glob("*/LC_MESSAGES/*.po"))


def _catalog_id(po: Path) -> str:
    return po.relative_to(LOCALE.parent.parent).as_posix()


NUMBER = "+393471234567"
ITALIAN = {"HTTP_ACCEPT_LANGUAGE": "it"}


@pytest.fixture(autouse=True)
def _back_to_english():
    """LocaleMiddleware leaves the request's language active in the thread; the rest of the
    suite expects LANGUAGE_CODE ("en")."""
    yield
    translation.deactivate()


@pytest.fixture
def admin_client_(db) -> Client:
    locmem.reset()
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    yield client
    locmem.reset()


# --- the admin ----------------------------------------------------------------------------


def test_changelist_in_italian(admin_client_: Client) -> None:
    msg = services.send_sms("Ciao", [NUMBER])
    msg.refresh_from_db()
    assert msg.status == Status.SENT
    url = reverse("admin:django_smsrest_smsmessage_changelist")

    english = admin_client_.get(url).content.decode()
    assert "SMS messages" in english
    assert "Send now (queued messages)" in english

    page = admin_client_.get(url, **ITALIAN).content.decode()
    assert '<html lang="it"' in page
    assert "Messaggi SMS" in page  # verbose_name_plural
    assert 'smsrest-status-sent">Inviato</span>' in page  # a status label
    assert "Invia ora (messaggi in coda)" in page  # an action
    assert "Aggiorna lo stato di consegna" in page
    assert "Send now (queued messages)" not in page


def test_add_form_in_italian(admin_client_: Client) -> None:
    page = admin_client_.get(
        reverse("admin:django_smsrest_smsmessage_add"), **ITALIAN
    ).content.decode()
    for label in ("Destinatari", "Mittente", "Tipo di messaggio", "Invio programmato"):
        # A <label>, or a <legend> for the date/time pair on Django 6.
        assert re.search(rf">{label}:</(label|legend)>", page), label
    assert "Lasciare vuoto per inviare il prima possibile." in page  # a help text
    assert 'value="Anteprima"' in page  # a button of the app's template
    assert "Scheduled delivery time" not in page
    # The live counter's catalog is on the page (after the admin's own jsi18n).
    assert reverse("admin:django_smsrest_smsmessage_jsi18n") in page


def test_counter_javascript_catalog_in_italian(admin_client_: Client) -> None:
    url = reverse("admin:django_smsrest_smsmessage_jsi18n")
    italian = admin_client_.get(url, **ITALIAN).content.decode()
    assert "per %(numbers)s numeri" in italian
    # Only this app's strings: the admin's catalog is served by admin:jsi18n.
    assert "Scegli tutto" not in italian
    assert "per %(numbers)s numeri" not in admin_client_.get(url).content.decode()


def test_add_form_validation_error_in_italian(admin_client_: Client) -> None:
    response = admin_client_.post(
        reverse("admin:django_smsrest_smsmessage_add"),
        {"message": "", "recipients": NUMBER, "message_type": "N", "_continue": "1"},
        **ITALIAN,
    )
    assert response.status_code == 200
    assert "Il messaggio è vuoto. Scrivere il testo da inviare." in response.content.decode()
    assert not SmsMessage.objects.exists()


# --- services and the command -------------------------------------------------------------


@pytest.mark.django_db
def test_validation_errors_in_italian() -> None:
    # The messages are lazy: they are rendered (here, by message_dict) in the language
    # active at that moment, so read them inside the override.
    with translation.override("it"):
        with pytest.raises(ValidationError) as caught:
            services.validate_sms("", ["12"])
        errors = caught.value.message_dict
    assert errors["message"] == ["Il messaggio è vuoto. Scrivere il testo da inviare."]
    assert errors["recipients"] == ["«12» non è un numero di telefono valido."]

    with translation.override("en"):
        with pytest.raises(ValidationError) as caught:
            services.validate_sms("", [NUMBER])
        errors = caught.value.message_dict
    assert errors["message"] == ["The message is empty. Write the text to send."]


@pytest.mark.django_db
def test_validation_error_with_parameters_in_italian() -> None:
    with translation.override("it"):
        with pytest.raises(ValidationError) as caught:
            services.validate_sms("x" * 2000, [NUMBER])
        [first] = caught.value.message_dict["message"]  # the tightest limit only
    assert first == (
        "Il messaggio è troppo lungo: 2000 caratteri in GSM-7, 14 parti SMS. "
        "Il gateway accetta al massimo 1000 caratteri in GSM-7."
    )


def test_command_help_in_italian() -> None:
    with translation.override("it"):
        text = Command().create_parser("manage.py", "send_sms").format_help()
    assert "Invia un SMS, oppure elabora la coda di invio." in text
    assert "Mostra i crediti residui dell'account." in text
    assert "invio di un messaggio" in text  # an argument group title
    with translation.override("en"):
        text = Command().create_parser("manage.py", "send_sms").format_help()
    assert "Send an SMS, or run the outbox." in text


# --- the catalogs ---------------------------------------------------------------------------


def _read_po(path: Path) -> list[dict[str, str]]:
    """Entries of a .po file as {"msgid": ..., "msgstr[0]": ..., "#flags": ...} dicts."""
    entries: list[dict[str, str]] = []
    # (A fresh djangojs.po from makemessages has no blank line after its header.)
    text = re.sub(r'"\n#', '"\n\n#', path.read_text(encoding="utf-8"))
    for block in text.split("\n\n"):
        entry: dict[str, str] = {"#flags": ""}
        key = None
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry["#flags"] += line[2:]
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                assert key is not None, (path, line)
                entry[key] += ast.literal_eval(line)
            else:
                key, _, value = line.partition(" ")
                entry[key] = ast.literal_eval(value)
        if "msgid" in entry:
            entries.append(entry)
    return entries


def _translations(entry: dict[str, str]) -> list[str]:
    return [value for key, value in entry.items() if key.startswith("msgstr")]


def test_italian_catalogs_exist() -> None:
    assert {p.relative_to(LOCALE).as_posix() for p in CATALOGS} >= {
        "it/LC_MESSAGES/django.po",
        "it/LC_MESSAGES/djangojs.po",
    }


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext (xgettext)")
@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_catalog_has_every_string_of_the_code(domain: str, tmp_path: Path) -> None:
    """``makemessages`` on a copy of the package finds no msgid that the shipped .po lacks
    (a new ``_()`` string would otherwise stay English in Italian)."""
    copy = tmp_path / "django_smsrest"
    shutil.copytree(LOCALE.parent, copy, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    (copy / "locale").mkdir()  # where makemessages writes: next to the copied code
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env["PYTHONPATH"] = os.pathsep.join([str(LOCALE.parent.parent), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "it", "-d", domain],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    extracted = {e["msgid"] for e in _read_po(copy / f"locale/it/LC_MESSAGES/{domain}.po")}
    shipped = {e["msgid"] for e in _read_po(LOCALE / f"it/LC_MESSAGES/{domain}.po")}
    assert extracted - shipped == set(), "run `nox -s messages` and translate"
    assert shipped - extracted == set(), "obsolete entries: run `nox -s messages`"


@pytest.mark.parametrize("po", ALL_CATALOGS, ids=_catalog_id)
def test_catalog_is_complete(po: Path) -> None:
    entries = [e for e in _read_po(po) if e["msgid"]]
    assert entries
    untranslated = [e["msgid"] for e in entries if not all(_translations(e))]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["#flags"]]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("po", ALL_CATALOGS, ids=_catalog_id)
def test_translations_keep_the_placeholders(po: Path) -> None:
    """A dropped or misspelt ``%(name)s`` would raise KeyError (or lose data) at runtime.
    A singular form may leave out the count (Italian "un altro" for n = 1)."""
    placeholder = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")
    for entry in _read_po(po):
        wanted = set(placeholder.findall(entry["msgid"] + entry.get("msgid_plural", "")))
        for key, text in entry.items():
            if key.startswith("msgstr") and entry["msgid"]:
                got = set(placeholder.findall(text))
                assert got <= wanted, (entry["msgid"], text)
                if key in ("msgstr", "msgstr[1]"):
                    assert got == wanted, (entry["msgid"], text)


@pytest.mark.parametrize("po", ALL_CATALOGS, ids=_catalog_id)
def test_mo_matches_po(po: Path) -> None:
    """The shipped .mo is compiled from the current .po (run compilemessages after edits)."""
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run compilemessages"
    with mo.open("rb") as fp:
        catalog = gettext.GNUTranslations(fp)
    for entry in _read_po(po):
        if not entry["msgid"]:
            continue
        if "msgid_plural" in entry:
            for n, key in ((1, "msgstr[0]"), (2, "msgstr[1]")):
                got = catalog.ngettext(entry["msgid"], entry["msgid_plural"], n)
                assert got == entry[key], (po.name, entry["msgid"])
        else:
            assert catalog.gettext(entry["msgid"]) == entry["msgstr"], (po.name, entry["msgid"])
    # And nothing in the .mo that the .po no longer has (a stale, removed string).
    msgids = {e["msgid"] for e in _read_po(po)}
    stale = [k for k in catalog._catalog if (k[0] if isinstance(k, tuple) else k) not in msgids]
    assert stale == []
