"""Sphinx directives that generate reference tables from the code (one fact, one place).

* ``.. smsrest-settings::``   every key of ``conf.DEFAULTS``: default and meaning
  (``conf.SETTINGS_HELP``);
* ``.. smsrest-checks::``     every system check id and its meaning (``checks.CHECK_IDS``);
* ``.. smsrest-commands::``   every management command of the app: its help and the options
  of its argparse parser (Django's common options left out);
* ``.. smsrest-sandbox-options::``  the sandbox's command-line options (its argparse parser);
* ``.. smsrest-fidelity::``   the sandbox's fidelity table (``sandbox.fidelity.FIDELITY``).

Each directive builds reStructuredText from a pure function of this module (``*_rst()``),
which ``tests/test_settings_reference.py`` calls too, and parses it in place.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any

#: Options every Django command has; the reference names them once instead.
DJANGO_COMMON_DESTS = frozenset(
    {
        "help",
        "version",
        "verbosity",
        "settings",
        "pythonpath",
        "traceback",
        "no_color",
        "force_color",
        "skip_checks",
    }
)


def _cell(text: str) -> str:
    """One list-table cell: reStructuredText on one line (a dash when empty)."""
    text = " ".join(str(text).split())
    return text or "\N{EN DASH}"


def _literal(value: str) -> str:
    """``value`` as an inline literal; backquotes would end it, so they cannot be inside."""
    return f"``{value}``" if "`" not in value else value


def list_table(
    headers: Iterable[str], rows: Iterable[Iterable[str]], widths: str = "auto"
) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [list(headers), *map(list, rows)]:
        first, *rest = row
        lines.append(f"   * - {_cell(first)}")
        lines += [f"     - {_cell(cell)}" for cell in rest]
    return [*lines, ""]


# --- settings and checks --------------------------------------------------------------


def settings_rst() -> list[str]:
    from django_smsrest.conf import DEFAULTS, SETTINGS_HELP

    rows = [
        (_literal(key), _literal(repr(default)), SETTINGS_HELP.get(key, ""))
        for key, default in DEFAULTS.items()
    ]
    return list_table(("Key", "Default", "Meaning"), rows, "22 22 56")


def checks_rst() -> list[str]:
    from django_smsrest.checks import CHECK_IDS

    rows = [(_literal(check_id), meaning) for check_id, meaning in sorted(CHECK_IDS.items())]
    return list_table(("Id", "Meaning"), rows, "25 75")


# --- argparse parsers -----------------------------------------------------------------


def _invocation(action: argparse.Action) -> str:
    if not action.option_strings:
        return str(action.metavar or action.dest)
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar or action.dest.upper()
    return ", ".join(f"{flag} {metavar}" for flag in action.option_strings)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    formatter = parser._get_formatter()
    return formatter._expand_help(action)


def options_rst(
    parser: argparse.ArgumentParser, *, skip: frozenset[str] = frozenset()
) -> list[str]:
    """Every option of ``parser``, group by group, as list tables."""
    lines: list[str] = []
    for group in parser._action_groups:
        actions = [
            a for a in group._group_actions if a.dest not in skip and a.help != argparse.SUPPRESS
        ]
        if not actions:
            continue
        title = group.title or ""
        if title in ("options", "optional arguments"):
            title = "Options"
        elif title == "positional arguments":
            title = "Arguments"
        lines += [f"**{title}**" if title else "", ""]
        rows = [(_literal(_invocation(a)), _escape(_help(parser, a))) for a in actions]
        lines += list_table(("Option", "Meaning"), rows, "30 70")
    return lines


def _escape(text: str) -> str:
    """Plain help text in reStructuredText: nothing in it is markup."""
    for char in ("\\", "*", "`", "|", "_"):
        text = text.replace(char, "\\" + char)
    return text


def commands_rst() -> list[str]:
    """Every management command of the app, with its help and options."""
    from django.core.management import find_commands, load_command_class

    import django_smsrest

    root = django_smsrest.__path__[0]
    lines: list[str] = []
    for name in sorted(find_commands(f"{root}/management")):
        command = load_command_class("django_smsrest", name)
        parser = command.create_parser("manage.py", name)
        lines += [f".. _command-{name}:", "", f".. rubric:: manage.py {name}", "", "::", ""]
        lines += [f"    {line}" for line in str(command.help).splitlines()]
        lines += [""]
        lines += options_rst(parser, skip=DJANGO_COMMON_DESTS)
        lines += [
            "Django's common options (``--verbosity``, ``--settings``, ``--pythonpath``, "
            "``--traceback``, ``--no-color``, ``--force-color``, ``--skip-checks``) apply "
            "too.",
            "",
        ]
    return lines


def sandbox_options_rst() -> list[str]:
    from django_smsrest.sandbox.__main__ import build_parser

    return options_rst(build_parser(), skip=frozenset({"help"}))


# --- the sandbox's fidelity -----------------------------------------------------------


def fidelity_rst() -> list[str]:
    from django_smsrest.sandbox.fidelity import FIDELITY

    rows = [
        (_escape(b.name), b.level, _escape(b.source), _literal(b.switch) if b.switch else "")
        for b in FIDELITY
    ]
    return list_table(("Behaviour", "Fidelity", "Source", "Option"), rows, "50 12 23 15")


# --- Sphinx ---------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[], list[str]]] = {
    "smsrest-settings": settings_rst,
    "smsrest-checks": checks_rst,
    "smsrest-commands": commands_rst,
    "smsrest-sandbox-options": sandbox_options_rst,
    "smsrest-fidelity": fidelity_rst,
}


def _directive(generate: Callable[[], list[str]]) -> type:
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class Generated(SphinxDirective):
        has_content = False

        def run(self) -> list[nodes.Node]:
            source = self.get_source_info()[0]
            content = StringList(generate(), source=f"{source} (generated)")
            container = nodes.container()
            self.state.nested_parse(content, self.content_offset, container)
            return list(container.children)

    return Generated


def setup(app: Any) -> dict[str, Any]:
    for name, generate in GENERATORS.items():
        app.add_directive(name, _directive(generate))
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
