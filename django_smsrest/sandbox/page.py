"""The sandbox's HTML page: what it received, newest first.

Every value that came from a client (message text, sender, numbers, order ids) goes through
:func:`html.escape`; a message containing ``<script>`` shows as text. The page never
shows the password, the user key, session keys or access tokens: it is built only from
:meth:`SandboxState.snapshot`, which holds none of them.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from django_smsrest.results import FAILURE_STATES, DeliveryState
from django_smsrest.sandbox.fidelity import FIDELITY
from django_smsrest.sandbox.inbound import DEFAULT_SIM
from django_smsrest.sandbox.replies import SEND_LABELS

if TYPE_CHECKING:
    from django_smsrest.sandbox.state import SandboxState

#: The page lists at most this many orders (the JSON at /_sandbox/orders has them all).
PAGE_LIMIT = 300

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
table.orders{table-layout:fixed}
table.orders col.when{width:7rem}table.orders col.id{width:8rem}
table.orders col.type{width:4rem}table.orders col.sender{width:5.5rem}
table.orders col.rcpt{width:12rem}table.orders col.size{width:5.5rem}
table.orders col.sched{width:7rem}table.orders col.notes{width:9rem}
th{background:#f3f3f3}
.msg{white-space:pre-wrap;max-width:32rem;font-family:ui-monospace,monospace}
.st{font-family:ui-monospace,monospace;font-size:.9em}
.lvl-confirmed{color:#1b7f3b}.lvl-likely{color:#8a6d00}.lvl-switchable,.lvl-invented{color:#b00020}
.fail{color:#b00020}.ok{color:#1b7f3b}.muted{color:#777}
"""


def _state_class(status: str) -> str:
    if status in FAILURE_STATES:
        return "fail"
    return "ok" if status in ("DLVRD", "SENT") else "muted"


def _message_cell(order: dict[str, Any]) -> str:
    """The text; for paramsms each recipient's personalised text under the template."""
    if not order.get("texts"):
        return escape(order["message"])
    lines = [f'<span class="muted">template:</span> {escape(order["message"])}']
    lines += [
        f"{escape(number)}: {escape(text)}"
        for number, text in zip(order["recipients"], order["texts"], strict=False)
    ]
    return "<br>".join(lines)


def _order_row(order: dict[str, Any]) -> str:
    states = "<br>".join(
        f'{escape(s["destination"])} <span class="st {_state_class(s["status"])}">'
        f"{escape(DeliveryState.parse(s['status']).english)} ({escape(s['status'])})</span>"
        for s in order["states"]
    )
    notes = []  # safe HTML fragments
    if order.get("endpoint", "sms") != "sms":
        notes.append(f"POST {escape(order['endpoint'])}")
    if order.get("groups"):
        notes.append("groups: " + escape(", ".join(order["groups"])))
    if order["cancelled"]:
        notes.append("cancelled")
    if order["fault"]:
        notes.append(f"fault: {escape(order['fault'])}")
    if order["posts"] > 1:
        notes.append(f"<strong>{order['posts']} POSTs</strong>")
    if order.get("schedule_note"):
        notes.append(escape(order["schedule_note"]))
    if order["dropped_recipients"]:
        notes.append(f"{len(order['dropped_recipients'])} invalid number(s) dropped")
    scheduled = order["scheduled_delivery_time"] or ""
    return (
        "<tr>"
        f"<td>{escape(order['created_at'])}</td>"
        f"<td><code>{escape(order['order_id'])}</code></td>"
        f"<td>{escape(order['message_type'])}</td>"
        f"<td>{escape(order['sender'] or '')}</td>"
        f"<td>{states}</td>"
        f'<td class="msg">{_message_cell(order)}</td>'
        f"<td>{escape(order['encoding'])} / {order['segments']} part(s) / "
        f"{order['credits']} credit(s)</td>"
        f"<td>{escape(scheduled)}</td>"
        f"<td>{' &middot; '.join(notes)}</td>"
        "</tr>"
    )


def _inbound_section(messages: list[dict[str, Any]]) -> str:
    """Received SMS (newest first) and the form that makes the account receive one."""
    rows = (
        "\n".join(
            "<tr>"
            f"<td>{escape(m['received_at'])}</td><td>{escape(m['phoneNumber'])}</td>"
            f'<td>{escape(m["id_sim"])}</td><td class="msg">{escape(m["text"])}</td>'
            f"<td>{'read' if m['consumed'] else 'new'}</td>"
            "</tr>"
            for m in reversed(messages[-PAGE_LIMIT:])
        )
        or '<tr><td colspan="5" class="muted">No SMS received yet.</td></tr>'
    )
    return f"""<h2>Received SMS (inbound)</h2>
<form method="post" action="inbound">
<label>From <input name="sender" value="+393471234567" required></label>
<label>To SIM <input name="id_sim" value="{escape(DEFAULT_SIM)}" required></label>
<label>Text <input name="text" size="40" required maxlength="1000"></label>
<button type="submit">Receive</button>
</form>
<table>
<thead><tr><th>Received</th><th>From</th><th>SIM</th><th>Text</th>
<th>newsrsmsmessage</th></tr></thead>
<tbody>
{rows}
</tbody></table>"""


def _pins_section(pins: list[dict[str, Any]]) -> str:
    """PINs sent by ``POST 2fa/request`` (newest first), as the phone would show them."""
    if not pins:
        return ""
    rows = "\n".join(
        f'<tr><td>{escape(p["recipient"])}</td><td class="msg">{escape(p["text"])}</td>'
        f"<td>{p['tries_left']}</td><td>{'used' if p['used'] else 'live'}</td></tr>"
        for p in reversed(pins[-PAGE_LIMIT:])
    )
    return f"""<h2>PINs sent (2fa/request)</h2>
<table>
<thead><tr><th>To</th><th>Text</th><th>Tries left</th><th>State</th></tr></thead>
<tbody>
{rows}
</tbody></table>"""


def _fidelity_section() -> str:
    """The table of how sure each simulated behaviour is (static: no client data)."""
    rows = "\n".join(
        f'<tr><td>{escape(b.name)}</td><td class="lvl-{b.level}">{b.level}</td>'
        f"<td>{escape(b.source)}</td><td><code>{escape(b.switch)}</code></td></tr>"
        for b in FIDELITY
    )
    return f"""<h2>Fidelity</h2>
<p class="muted">confirmed: the documentation states it &middot; likely: real clients
suggest it &middot; switchable: the sandbox invents it, an option changes it &middot;
invented: the sandbox invents it, fixed (reason given). Sources: the reference's sections.</p>
<table>
<thead><tr><th>Behaviour</th><th>Fidelity</th><th>Source</th><th>Option</th></tr></thead>
<tbody>
{rows}
</tbody></table>"""


def render_page(state: SandboxState) -> str:
    """The whole HTML page for ``GET /_sandbox/``."""
    data = state.snapshot()
    orders = list(reversed(data["orders"]))
    shown = orders[:PAGE_LIMIT]
    rows = "\n".join(_order_row(order) for order in shown) or (
        '<tr><td colspan="9" class="muted">Nothing received yet.</td></tr>'
    )
    credits = ", ".join(f"{escape(k)}: {v}" for k, v in data["credits"].items())
    more = (
        f'<p class="muted">Showing the newest {PAGE_LIMIT} of {len(orders)}; '
        'all are in <a href="orders">orders</a> (JSON).</p>'
        if len(orders) > PAGE_LIMIT
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>SMS REST sandbox</title><style>{_STYLE}</style></head>
<body>
<h1>SMS REST sandbox</h1>
<p>API base URL: <code>{escape(state_base_hint())}</code> &middot; account
<code>{escape(state.config.username)}</code> &middot; {len(orders)} order(s),
{_post_counts(data["requests"])}, {data["logins"]} login(s), {data["tokens"]} token(s)
&middot; credits {credits} &middot; <a href="orders">JSON</a> &middot;
<a href="config">options</a></p>
{more}
<table class="orders">
<colgroup><col class="when"><col class="id"><col class="type"><col class="sender">
<col class="rcpt"><col class="msg"><col class="size"><col class="sched"><col class="notes">
</colgroup>
<thead><tr><th>Received</th><th>Order id</th><th>Type</th><th>Sender</th>
<th>Recipients</th><th>Message</th><th>Size</th><th>Scheduled</th><th>Notes</th></tr></thead>
<tbody>
{rows}
</tbody></table>
{_inbound_section(data["inbound"])}
{_pins_section(data["pins"])}
{_fidelity_section()}
<script>
// Reload every 5 s to show new orders, but not while someone types into the form.
setInterval(function () {{
  var el = document.activeElement;
  if (!el || el.tagName !== "INPUT") {{ location.reload(); }}
}}, 5000);
</script>
</body></html>
"""


def _post_counts(requests: dict[str, int]) -> str:
    """``"3 POST sms, 1 POST paramsms"``: each send endpoint on its own (``POST sms``
    always, the others once used)."""
    return ", ".join(
        f"{requests.get(label, 0)} {label}"
        for label in SEND_LABELS
        if label == "POST sms" or requests.get(label)
    )


def state_base_hint() -> str:
    """The API path clients use, relative to this server."""
    return "/API/v1.0/REST/"
