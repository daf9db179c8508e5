"""The outbox: one ``SmsMessage`` row per SMS, split into gateway orders and recipients.

* ``SmsMessage`` is what a user sends: text, type, sender, optional schedule, and the
  outbox state (status, attempts, next attempt, lease). ``order_id`` is generated when the
  row is created, so it is committed before any POST and serves as the idempotency key.
* ``SmsOrder`` is one ``POST sms``. A message has one order, or several when it has more
  recipients than ``MAX_RECIPIENTS_PER_ORDER``; each has its own ``order_id`` and records
  what the gateway answered for it, so a retry re-sends only the orders not yet accepted.
* ``SmsRecipient`` is one E.164 number with its latest delivery state.

Only :mod:`django_smsrest.services` changes these rows' state.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_smsrest.results import delivery_label


def new_order_id() -> str:
    """A fresh gateway ``order_id``: 32 hex characters (the gateway allows at most 32 of
    ``[A-Za-z0-9_.-]``)."""
    return uuid.uuid4().hex


class Encoding(models.TextChoices):
    GSM = "gsm", _("GSM-7")
    UCS2 = "ucs2", _("UCS-2 (Unicode)")


class Status(models.TextChoices):
    """A message's place in its life. It only moves forward (see ``services``)."""

    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    # Outcome of a send attempt is unknown (timeout, 5xx, lease expired): must be
    # reconciled with GET sms/{order_id} before anything is sent again.
    UNKNOWN = "unknown", _("Unknown, reconciling")
    SCHEDULED = "scheduled", _("Scheduled at the gateway")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    PARTIALLY_DELIVERED = "partially_delivered", _("Partially delivered")
    UNDELIVERED = "undelivered", _("Undelivered")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    # A login code whose validity ended before it could be POSTed: never sent (codes.py).
    EXPIRED = "expired", _("Expired")


class Kind(models.TextChoices):
    """Which send endpoint a message goes through."""

    SMS = "sms", _("SMS")  # POST sms: the same text to every recipient
    PARAMS = "params", _("Personalised")  # POST paramsms: ${placeholders} per recipient
    GROUPS = "groups", _("Contact groups")  # POST smstogroups: the provider's groups


class Purpose(models.TextChoices):
    """Why a message is sent: consent rules (the suppression list, quiet hours) apply to
    marketing only; a transactional message (a code, a reminder, a notice) always goes."""

    TRANSACTIONAL = "transactional", _("Transactional")
    MARKETING = "marketing", _("Marketing")


class OrderStatus(models.TextChoices):
    """The state of one ``POST sms`` at the gateway."""

    PENDING = "pending", _("Not yet accepted")
    ACCEPTED = "accepted", _("Accepted by the gateway")
    REJECTED = "rejected", _("Rejected by the gateway")
    CANCELLED = "cancelled", _("Cancelled")


class SmsMessage(models.Model):
    message = models.TextField(_("message"))
    message_type = models.CharField(_("message type"), max_length=8)
    sender = models.CharField(_("sender"), max_length=16, blank=True, default="")
    scheduled_delivery_time = models.DateTimeField(
        _("scheduled delivery time"), null=True, blank=True
    )
    encoding = models.CharField(
        _("encoding"), max_length=4, choices=Encoding.choices, default=Encoding.GSM
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.SMS)
    # Kind.GROUPS: the names of the provider's contact groups it is sent to.
    groups = models.JSONField(_("contact groups"), default=list, blank=True)
    segments = models.PositiveSmallIntegerField(_("segments"), default=1)
    recipient_count = models.PositiveIntegerField(_("recipients"), default=0)

    purpose = models.CharField(
        _("purpose"), max_length=16, choices=Purpose.choices, default=Purpose.TRANSACTIONAL
    )
    # The gateway's optional ``campaign_name`` send field (its reports group by it).
    campaign_name = models.CharField(_("campaign"), max_length=64, blank=True, default="")
    # SMSREST["OVERRIDE_RECIPIENTS"] at send time: where the message really went (the
    # recipient rows keep who it was meant for). Empty when it went to its recipients.
    overridden_to = models.JSONField(
        _("sent instead to"), default=list, blank=True, editable=False
    )

    status = models.CharField(
        _("status"), max_length=24, choices=Status.choices, default=Status.QUEUED
    )
    order_id = models.CharField(
        _("order id"), max_length=32, unique=True, default=new_order_id, editable=False
    )
    internal_order_id = models.CharField(
        _("internal order id"), max_length=64, blank=True, default="", editable=False
    )
    total_sent = models.PositiveIntegerField(
        _("total sent"), null=True, blank=True, editable=False
    )
    remaining_credits = models.IntegerField(
        _("remaining credits"), null=True, blank=True, editable=False
    )
    last_error = models.TextField(_("last error"), blank=True, default="", editable=False)

    # Outbox bookkeeping.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0, editable=False)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True, editable=False)
    claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    next_status_check_at = models.DateTimeField(
        _("next status check at"), null=True, blank=True, editable=False
    )
    status_checks = models.PositiveSmallIntegerField(default=0, editable=False)

    # Login codes (django_smsrest.codes): ``message`` holds the text with the code masked;
    # the clear text lives only in the cache until ``expires_at``, and the message is never
    # POSTed after that. ``priority``: claimed before any other due message (higher first).
    is_code = models.BooleanField(_("login code"), default=False, editable=False)
    priority = models.PositiveSmallIntegerField(_("priority"), default=0, editable=False)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True, editable=False)

    resend_of = models.ForeignKey(
        "self",
        verbose_name=_("resend of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resends",
        editable=False,
    )

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, editable=False)
    # cleanup_sms --redact blanked the text and the numbers (the row stays for statistics).
    redacted_at = models.DateTimeField(_("redacted at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS messages")
        ordering = ["-created_at", "-id"]
        permissions = [("send_smsmessage", _("Can send, resend and cancel SMS messages"))]
        indexes = [
            # The queue query: due messages by status.
            models.Index(fields=["status", "next_attempt_at"], name="smsrest_msg_queue_idx"),
            # The sweeper's lease recovery.
            models.Index(fields=["status", "lease_until"], name="smsrest_msg_lease_idx"),
            # The delivery-status poller.
            models.Index(fields=["status", "next_status_check_at"], name="smsrest_msg_poll_idx"),
            # Due messages ahead of the others (login codes): a small partial index, the
            # bulk queue is not in it.
            models.Index(
                fields=["priority", "id"],
                name="smsrest_msg_priority_idx",
                condition=models.Q(priority__gt=0, status="queued"),
            ),
            models.Index(fields=["purpose", "created_at"], name="smsrest_msg_purpose_idx"),
            # The admin's campaign filter lists the named campaigns only.
            models.Index(
                fields=["campaign_name"],
                name="smsrest_msg_campaign_idx",
                condition=~models.Q(campaign_name=""),
            ),
        ]

    def __str__(self) -> str:
        preview = self.message if len(self.message) <= 40 else self.message[:39] + "…"
        return ngettext(
            "SMS #%(pk)s to %(count)d recipient (%(status)s): %(preview)s",
            "SMS #%(pk)s to %(count)d recipients (%(status)s): %(preview)s",
            self.recipient_count,
        ) % {
            "pk": self.pk,
            "count": self.recipient_count,
            "status": self.get_status_display(),
            "preview": preview,
        }


class SmsOrder(models.Model):
    """One gateway order (one ``POST sms``) carrying part or all of a message's recipients."""

    message = models.ForeignKey(SmsMessage, on_delete=models.CASCADE, related_name="orders")
    index = models.PositiveSmallIntegerField(_("index"))
    order_id = models.CharField(_("order id"), max_length=32, unique=True, default=new_order_id)
    status = models.CharField(
        _("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    internal_order_id = models.CharField(
        _("internal order id"), max_length=64, blank=True, default=""
    )
    total_sent = models.PositiveIntegerField(_("total sent"), null=True, blank=True)
    remaining_credits = models.IntegerField(_("remaining credits"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("gateway order")
        verbose_name_plural = _("gateway orders")
        ordering = ["message", "index"]
        constraints = [
            models.UniqueConstraint(fields=["message", "index"], name="smsrest_order_unique_index")
        ]

    def __str__(self) -> str:
        return self.order_id


class SmsRecipient(models.Model):
    """One destination of a message, with its latest delivery state."""

    message = models.ForeignKey(SmsMessage, on_delete=models.CASCADE, related_name="recipients")
    order = models.ForeignKey(SmsOrder, on_delete=models.CASCADE, related_name="recipients")
    phone_number = models.CharField(_("phone number"), max_length=16)
    # Kind.PARAMS: this recipient's values of the message's ${placeholders}, kept so that a
    # resend repeats exactly what was sent.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # A DeliveryState wire value ("DLVRD", ...); empty until the gateway reports one.
    state = models.CharField(_("delivery state"), max_length=16, blank=True, default="")
    delivery_date = models.DateTimeField(_("delivery date"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        ordering = ["message", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "phone_number"], name="smsrest_recipient_unique_number"
            )
        ]
        indexes = [models.Index(fields=["phone_number"], name="smsrest_rcpt_number_idx")]

    def __str__(self) -> str:
        return self.phone_number

    @property
    def state_label(self) -> str:
        """The delivery state for people, with the gateway's code: "Delivered (DLVRD)"."""
        return delivery_label(self.state)


class HeldDeliveryReport(models.Model):
    """A delivery callback that came while its message was claimed (being sent,
    reconciled, polled) or not yet recorded as sent: kept here, and applied by whoever
    ends the claim that records the message as sent (``outbox.reports``)."""

    message = models.ForeignKey(
        SmsMessage, on_delete=models.CASCADE, related_name="held_reports", editable=False
    )
    order = models.ForeignKey(SmsOrder, on_delete=models.CASCADE, editable=False)
    phone_number = models.CharField(_("phone number"), max_length=32, editable=False)
    state = models.CharField(_("delivery state"), max_length=16, editable=False)
    delivery_date = models.DateTimeField(_("delivery date"), null=True, editable=False)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("held delivery report")
        verbose_name_plural = _("held delivery reports")

    def __str__(self) -> str:
        return f"{self.phone_number}: {self.state}"


class CodeRateCounter(models.Model):
    """How many login codes went to one key (a number, or ``"*"`` for the whole project)
    in one fixed window of ``SMSREST["RATE_LIMITS"]``. Written only by
    :mod:`django_smsrest.ratelimit`, with conditional UPDATEs that every process shares."""

    key = models.CharField(_("key"), max_length=40)
    period = models.PositiveIntegerField(_("period (seconds)"))
    window_start = models.DateTimeField(_("window start"))
    count = models.PositiveIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("code rate counter")
        verbose_name_plural = _("code rate counters")
        constraints = [
            models.UniqueConstraint(
                fields=["key", "period", "window_start"], name="smsrest_rate_unique_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.period}s {self.window_start:%Y-%m-%d %H:%M}: {self.count}"


class OutboxLock(models.Model):
    """A named lease that one process at a time holds, in the database every worker
    shares: the sweep takes ``"sweep"`` so that two sweeps started by cron (or a slow one
    and the next) never run over the same queue at once. See ``outbox.take_lock``."""

    name = models.CharField(_("name"), max_length=32, primary_key=True)
    token = models.CharField(max_length=32, blank=True, default="", editable=False)
    held_until = models.DateTimeField(_("held until"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox lock")
        verbose_name_plural = _("outbox locks")

    def __str__(self) -> str:
        return self.name


class ReceivedSms(models.Model):
    """An SMS the account received (``GET newsrsmsmessage``), stored once per gateway id.

    Written only by :func:`django_smsrest.services.receive_sms`; ``gateway_id`` is unique,
    so two pollers (or a poller and its recovery) can never store a message twice. The
    item fields are not documented: ``raw`` keeps the item exactly as the gateway sent it.
    """

    gateway_id = models.CharField(_("gateway id"), max_length=64, unique=True)
    sender = models.CharField(_("sender"), max_length=32, blank=True, db_index=True)
    sim = models.CharField(_("receiving number"), max_length=32, blank=True)
    text = models.TextField(_("text"), blank=True)
    # None when the gateway's date could not be read (see ``raw``).
    received_at = models.DateTimeField(_("received at"), null=True, blank=True, db_index=True)
    raw = models.JSONField(_("raw JSON"), default=dict, blank=True)
    fetched_at = models.DateTimeField(_("fetched at"), auto_now_add=True)
    # The poll that inserted the row: tells an insert that won from one that met a row
    # already there (bulk_create(ignore_conflicts=True) does not say which).
    batch = models.CharField(max_length=32, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("received SMS")
        verbose_name_plural = _("received SMS")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.sender}: {self.text[:40]}"


class QuarantinedSms(models.Model):
    """A received SMS that could not be stored as a :class:`ReceivedSms`, kept as it came
    with the reason: a date outside 2000-2099 (year 1, an epoch of 1e20), NaN or Infinity,
    a NUL or a lone surrogate, JSON nested too deep, or a row the database did not insert.

    Written only by :func:`django_smsrest.services.receive_sms`, once per ``key`` (the
    gateway id, or a hash of the raw text when the item had none), so a history re-read
    does not add it again. Quarantining is what lets a poll store the good items of the same
    page and move its checkpoint on, instead of raising on every poll. ``raw`` is text, not
    JSON: what made the item unstorable must not stop it from being kept (NaN, NUL and lone
    surrogates are written as escapes).
    """

    key = models.CharField(_("key"), max_length=64, unique=True, editable=False)
    gateway_id = models.CharField(_("gateway id"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=300)
    raw = models.TextField(_("raw item"), blank=True)
    fetched_at = models.DateTimeField(_("fetched at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("quarantined received SMS")
        verbose_name_plural = _("quarantined received SMS")
        ordering = ["-fetched_at", "-id"]

    def __str__(self) -> str:
        return f"{self.gateway_id or self.key}: {self.reason[:60]}"


class ReceiveCheckpoint(models.Model):
    """How far received SMS are known to be stored: every message the gateway received
    before ``covered_until`` is in :class:`ReceivedSms`. Each poll re-reads the history
    from there (``GET srsmshistory``), which finds the messages a poller consumed from the
    cursor but died before storing. One row (``name="default"``)."""

    name = models.CharField(_("name"), max_length=32, primary_key=True)
    covered_until = models.DateTimeField(_("covered until"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("receive checkpoint")
        verbose_name_plural = _("receive checkpoints")

    def __str__(self) -> str:
        return self.name


class WorkerKind(models.TextChoices):
    """What kind of process a :class:`SmsWorker` is."""

    LOOP = "loop", _("send_sms --loop")
    TASK = "task", _("task worker")
    CRON = "cron", _("cron (send_sms --sweep / --flush)")


class SmsWorker(models.Model):
    """A process that works through the outbox, and when it was last seen: the heartbeat.

    Written only by :func:`django_smsrest.services.health.beat` (one ``UPDATE`` of
    ``last_seen`` per loop iteration or flush); read by ``manage.py sms_health``, the admin
    dashboard and the metrics. ``name`` is ``kind@host:pid`` for a long-lived process and
    ``cron@host`` for the short runs of a cron job (one row per host, not one per run).
    Rows not seen for a week are deleted by the next process that starts.
    """

    name = models.CharField(_("name"), max_length=200, unique=True)
    host = models.CharField(_("host"), max_length=150)
    pid = models.PositiveIntegerField(_("process id"))
    kind = models.CharField(_("kind"), max_length=8, choices=WorkerKind.choices)
    started_at = models.DateTimeField(_("started at"))
    last_seen = models.DateTimeField(_("last seen"), db_index=True)

    class Meta:
        verbose_name = _("outbox worker")
        verbose_name_plural = _("outbox workers")
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return self.name


class SuppressionOrigin(models.TextChoices):
    """Where a suppression came from; the first three are the gateway's blacklist
    origins (``GET blacklist/sms?origins=API,WEB,STOPSMS``)."""

    LOCAL = "LOCAL", _("This site")
    STOP_REPLY = "STOP_REPLY", _("STOP reply")
    DELIVERY = "DELIVERY", _("Blacklisted delivery state")
    API = "API", _("Gateway blacklist (API)")
    WEB = "WEB", _("Gateway blacklist (web panel)")
    STOPSMS = "STOPSMS", _("Gateway Stop SMS service")


class Suppression(models.Model):
    """A number that must get no marketing SMS (an opt-out). One row per E.164 number;
    written only by :mod:`django_smsrest.services.consent`."""

    phone_number = models.CharField(_("phone number"), max_length=16, unique=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True, default="")
    origin = models.CharField(
        _("origin"),
        max_length=16,
        choices=SuppressionOrigin.choices,
        default=SuppressionOrigin.LOCAL,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    # When the gateway's blacklist was last known to hold the number (pulled from it, or
    # pushed to it); None: not there yet, the next sync pushes it.
    synced_at = models.DateTimeField(_("synced with the gateway"), null=True, blank=True)

    class Meta:
        verbose_name = _("suppressed number")
        verbose_name_plural = _("suppression list")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.phone_number


class DailyTally(models.Model):
    """How many messages of one day, purpose, type and final status the retention sweep
    (``cleanup_sms``) purged, and the lowest remaining credits they reported: kept so
    that the dashboard's figures stay right after the rows are gone. ``day`` is the
    creation day in ``TIME_ZONE``, as the dashboard counts it."""

    day = models.DateField(_("day"))
    purpose = models.CharField(_("purpose"), max_length=16)
    message_type = models.CharField(_("message type"), max_length=8)
    status = models.CharField(_("status"), max_length=24)
    count = models.PositiveIntegerField(_("messages"), default=0)
    low_credits = models.IntegerField(_("lowest remaining credits"), null=True, blank=True)

    class Meta:
        verbose_name = _("purged messages tally")
        verbose_name_plural = _("purged messages tallies")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "purpose", "message_type", "status"], name="smsrest_tally_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.purpose} {self.message_type} {self.status}: {self.count}"


class BlacklistCheckpoint(models.Model):
    """How far the gateway's blacklist is known to be pulled into :class:`Suppression`:
    every entry added before ``pulled_until`` is there. The next pull asks from a little
    before it (``send_sms --sync-blacklist``), so an interrupted pull resumes. One row
    (``name="default"``)."""

    name = models.CharField(_("name"), max_length=32, primary_key=True)
    pulled_until = models.DateTimeField(_("pulled until"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("blacklist checkpoint")
        verbose_name_plural = _("blacklist checkpoints")

    def __str__(self) -> str:
        return self.name
