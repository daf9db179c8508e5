"""The app's signals. Every one is sent with ``sender=SmsMessage`` by ``services``.

``pre_send(message)``
    Just before a message goes to the gateway (after it was claimed). A receiver may veto by
    raising :class:`django_smsrest.exceptions.SendCancelled`; the message is then cancelled
    with that reason and nothing is sent.
``post_send(message, result, results, error)``
    After the gateway answered for a send attempt that reached a conclusion: ``message.status``
    tells sent/scheduled/failed; ``results`` lists the answers of the message's orders so far
    and ``result`` is the last of them (``None`` when there is none); ``error`` is the
    exception for a failure, else ``None``.
``delivery_status_changed(message, previous_status, recipients)``
    A status refresh changed at least one recipient's state (``recipients`` lists the changed
    ``SmsRecipient`` rows) or the message's summary status.
``low_credit(message, remaining_credits, threshold)``
    The remaining credits reported by the gateway fell to or below ``LOW_CREDIT_THRESHOLD``.
``sms_received(message)``
    Sent with ``sender=ReceivedSms`` once per received SMS stored by
    ``services.receive_sms``, after the transaction that stored it committed (never for
    a message already stored, whoever polls again).
``code_rate_limited(recipient, scope, limit, retry_at)``
    ``services.send_code`` refused a login code: ``scope`` is ``"number"`` (too many to
    ``recipient``) or ``"total"`` (too many for the whole project), ``limit`` the
    :class:`~django_smsrest.limits.Limit` reached, ``retry_at`` when its window ends.
    Nothing was written or sent. Watch it: a burst is what SMS-pumping fraud looks like.
``opted_out(number, origin, reason)``
    Sent with ``sender=Suppression`` when a number joins the suppression list (by
    ``django_smsrest.suppress``, a STOP reply, the gateway's blacklist or a BLACKLISTED
    delivery state), after the transaction that stored it committed; never for a number
    already on the list.
"""

from django.dispatch import Signal

pre_send = Signal()
post_send = Signal()
delivery_status_changed = Signal()
low_credit = Signal()
sms_received = Signal()
code_rate_limited = Signal()
opted_out = Signal()
