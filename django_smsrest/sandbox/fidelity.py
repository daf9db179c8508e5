"""How far each simulated behaviour is from the real gateway, from the reference's marks.

The reference (research notes on the gateway's public documentation and real clients)
marks each fact [C] confirmed by the provider's documentation, [L] likely (real clients
agree, nothing contradicts) or [U] unverified. :data:`FIDELITY` maps each behaviour the
sandbox simulates to one of:

``confirmed``   the documentation states it;
``likely``      real clients suggest it;
``switchable``  the sandbox invents it, and an option changes it;
``invented``    the sandbox invents it and it cannot be switched (the reason is given).

The sandbox's page shows this table; the package docstring repeats it.
"""

from __future__ import annotations

from typing import NamedTuple

LEVELS: tuple[str, ...] = ("confirmed", "likely", "switchable", "invented")


class Behaviour(NamedTuple):
    """One simulated behaviour: what, how sure, where from, and the option that changes it."""

    name: str
    level: str
    source: str
    switch: str = ""


FIDELITY: tuple[Behaviour, ...] = (
    Behaviour(
        "login/token answer USER_KEY;KEY as text; 404 on wrong credentials", "confirmed", "§1.1"
    ),
    Behaviour("login/token also take HTTP Basic", "likely", "§1.1"),
    Behaviour(
        "session key idles out after 5 minutes without calls", "confirmed", "§1.1", "session_idle"
    ),
    Behaviour("access token never expires", "likely", "§1.2"),
    Behaviour("401 for a missing, unknown or idle session key or token", "confirmed", "§1.4, E2"),
    Behaviour("404 'user_key not found' for an unknown user_key", "confirmed", "§1.4, E4"),
    Behaviour("checksession answers true/false without renewing", "confirmed", "§1.3"),
    Behaviour("POST sms answers 201 {result, order_id, total_sent}", "confirmed", "§2.2"),
    Behaviour("remaining_credits and internal_order_id in the send answer", "likely", "§2.2"),
    Behaviour("message at most 1000 characters (gsm) / 450 (ucs2)", "confirmed", "§2.1"),
    Behaviour("low-cost types (LL, SI): one part, no custom sender", "confirmed", "§0, §2.4"),
    Behaviour("non-GSM text sent as gsm is refused", "switchable", "§9 [U]", "non_gsm"),
    Behaviour(
        "recipients '+' or '00' and 6-15 digits; allowInvalidRecipients drops bad ones",
        "confirmed",
        "§2.1, §2.4",
    ),
    Behaviour("sender at most 11 alphanumeric or 16 numeric characters", "likely", "§8"),
    Behaviour("every documented date format is read", "confirmed", "§0"),
    Behaviour("naive dates are Europe/Rome time", "switchable", "§0 [U]", "timezone"),
    Behaviour(
        "a scheduled time in the past is sent at once", "switchable", "§9 [U]", "strict_schedule"
    ),
    Behaviour("order_id at most 32 of [A-Za-z0-9_.-]", "confirmed", "§2.1"),
    Behaviour(
        "a repeated order_id is refused (400)", "switchable", "Uncertain 1", "duplicate_order_id"
    ),
    Behaviour("at most 10000 recipients per order", "switchable", "§2.4 [U]", "max_recipients"),
    Behaviour("one credit per part, balances per message type", "confirmed", "§9"),
    Behaviour(
        "state names WAITING, SENT, WAIT4DLVR, DLVRD, SCHEDULED, failures", "confirmed", "§4.1"
    ),
    Behaviour(
        "progression WAITING > SENT > WAIT4DLVR > DLVRD (N/GP), > SENT (others)",
        "likely",
        "§4.1, §13",
    ),
    Behaviour("one state per step seconds", "switchable", "invented", "step"),
    Behaviour(
        "test numbers ending 0001-0008 fail or hang",
        "invented",
        "sandbox scripting: use other numbers for plain delivery",
    ),
    Behaviour("DELETE sms/{id} only while SCHEDULED, else 404", "confirmed", "§5"),
    Behaviour("status lists credits per type; money with getMoney=true", "likely", "§6"),
    Behaviour("status?typeAliases=true lists the brand's codes", "switchable", "§6 [L]", "brand"),
    Behaviour("smshistory items order_id, create_time, schedule_time, ...", "likely", "§7.1"),
    Behaviour(
        "smshistory wrapper total/pageNumber/pageSize", "invented", "§7.1 [U]: no source shows it"
    ),
    Behaviour("paramsms ${name} substitution, per-text length check", "confirmed", "§3"),
    Behaviour(
        "paramsms/smstogroups answer 200 (smSend) or 201 (Skebby)",
        "switchable",
        "§3 [C/L]",
        "brand",
    ),
    Behaviour(
        "paramsms placeholder without a value is a 400",
        "invented",
        "undocumented: refusing shows a client's typo",
    ),
    Behaviour("smstogroups: unknown group is a 400", "confirmed", "§3b, E14"),
    Behaviour("smstogroups groups", "switchable", "§3b", "groups / --group"),
    Behaviour("newsrsmsmessage consumes what it returns; limit at most 100", "confirmed", "§7.2"),
    Behaviour(
        "received-SMS item fields and wrappers", "invented", "§7.2 [U]: no source shows a body"
    ),
    Behaviour(
        "blacklist: phoneNumber query, smsbatch all or nothing, GET filters and paging",
        "confirmed",
        "integrations §1 rows 10-12",
    ),
    Behaviour(
        "blacklist list items (phoneNumber, origin, insertDate) and page wrapper",
        "invented",
        "integrations §1 row 12 [U]: no source shows a body",
    ),
    Behaviour(
        "alias list with alias-state 0/1/2/3/4/9 and hide-not-approved",
        "confirmed",
        "integrations §1 row 18",
    ),
    Behaviour(
        "alias list wrapper and the item fields besides alias and alias-state",
        "invented",
        "integrations §1 row 18: no source shows a body",
    ),
    Behaviour("error body {result: KO, error_message, code}", "invented", "§11 [U]: undocumented"),
    Behaviour(
        "faults: 429, 500, timeouts, dropped connections, latency",
        "switchable",
        "§9: none documented",
        "*_rate / *_next, latency",
    ),
    Behaviour("delivery callbacks POSTed to a URL", "switchable", "§7.3 [U]", "callback_url"),
    Behaviour(
        "2fa/request: recipient, senderName, expiry (minutes, default 60), messageBody %PIN%",
        "confirmed",
        "integrations §1 row 8",
    ),
    Behaviour(
        "2fa/request answers {result: OK}; 2fa/verify {status: OK|ERROR, remaining_tries}",
        "invented",
        "integrations §1 row 9 [U]: the answers' field names are undocumented",
    ),
    Behaviour(
        "a PIN survives 3 wrong guesses; a new request replaces the old PIN",
        "invented",
        "undocumented ('the number of remaining tries' only)",
    ),
)


__all__ = ["FIDELITY", "LEVELS", "Behaviour"]
