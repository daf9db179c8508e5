"""The app's signals. Every one is sent with ``sender=SmsMessage`` by ``services``.

``pre_send(message)``
    Just before a message goes to the gateway (after it was claimed). A receiver may veto by
    raising :class:`django_smsrest.exceptions.SendCancelled`; the message is then cancelled
    with that reason and nothing is sent.
``post_send(message, result, error)``
    After the gateway answered for a send attempt that reached a conclusion: ``message.status``
    tells sent/scheduled/failed; ``error`` is the exception for a failure, else ``None``.
``delivery_status_changed(message, previous_status, recipients)``
    A status refresh changed at least one recipient's state (``recipients`` lists the changed
    ``SmsRecipient`` rows) or the message's summary status.
``low_credit(message, remaining_credits, threshold)``
    The remaining credits reported by the gateway fell to or below ``LOW_CREDIT_THRESHOLD``.
``sms_received(message)``
    Sent with ``sender=ReceivedSms`` once per received SMS stored by
    ``services.receive_sms``, after the transaction that stored it committed (never for
    a message already stored, whoever polls again).
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
opted_out = Signal()
