"""Forms that create an SMS through :mod:`django_smsrest.services`.

One rule for every entry point: ``services.validate_sms`` is the only validator. A form's
``clean()`` calls it and maps each of its errors onto the form field it names, so the admin,
the example project and a project's own views show exactly the errors the Python API raises.
Nothing here saves a model: :meth:`SendSmsFormMixin.send` hands the cleaned values to
``services.send_sms`` / ``services.queue_sms``, which create the row in one go.

* :class:`SendSmsForm` is a plain ``Form`` for a project's own views.
* :class:`SmsMessageAddForm` is the admin's add form (a ``ModelForm`` only because the admin
  requires one; its model validation is skipped on purpose, see ``_post_clean``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin import widgets as admin_widgets
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from django_smsrest.conf import get_settings
from django_smsrest.models import Purpose, SmsMessage
from django_smsrest.segments import SegmentCount, count_segments

if TYPE_CHECKING:
    from django_smsrest.services import ValidatedSms


def split_groups(value: str | None) -> list[str] | None:
    """Contact group names typed in one field (comma- or line-separated); ``None`` when
    none were given (then the message goes to the recipients)."""
    names = [name.strip() for name in (value or "").replace("\n", ",").split(",")]
    return [name for name in names if name] or None


def message_type_choices() -> list[tuple[str, str]]:
    """``(code, "code - label")`` for each message type of the configured brand."""
    conf = get_settings()
    return [
        (code, f"{code} - {mtype.verbose_label}") for code, mtype in conf.message_types.items()
    ]


class SendSmsFormMixin:
    """``clean()`` through ``services.validate_sms``; ``send()`` through ``services``.

    After a successful ``is_valid()``, :attr:`validated` holds the service's
    ``ValidatedSms`` (recipients in E.164, encoding, segments, credits). :meth:`preview`
    describes the text even when validation failed, for the counter next to the textarea.
    """

    validated: ValidatedSms | None = None
    # Provided by forms.Form / forms.ModelForm.
    cleaned_data: dict[str, Any]
    data: Any
    errors: Any
    fields: dict[str, forms.Field]

    def _setup_sms_fields(self) -> None:
        conf = get_settings()
        field = self.fields["message_type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = message_type_choices()
        field.initial = conf.default_message_type
        if conf.default_sender and not self.fields["sender"].initial:
            self.fields["sender"].initial = conf.default_sender

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        from django_smsrest import services

        self.validated = None
        # Browsers send textarea line breaks as CRLF; on a phone a line break is one
        # character, and CR would cost a second one.
        text = (cleaned.get("message") or "").replace("\r\n", "\n")
        cleaned["message"] = text
        try:
            self.validated = services.validate_sms(
                text,
                # The textarea as typed: validate_sms splits it (one number per line, or
                # separated by commas/semicolons) the way phone.normalize_many does.
                cleaned.get("recipients") or "",
                sender=cleaned.get("sender") or None,
                message_type=cleaned.get("message_type") or None,
                scheduled_delivery_time=cleaned.get("scheduled_delivery_time"),
                groups=split_groups(cleaned.get("groups")),
                purpose=cleaned.get("purpose") or None,
                campaign_name=cleaned.get("campaign_name") or None,
            )
        except ValidationError as exc:
            self._add_service_errors(exc)
        return cleaned

    def _add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)  # type: ignore[attr-defined]
            return
        for name, errors in exc.error_dict.items():
            # A field that already failed its own parsing (e.g. an unreadable date) keeps
            # that error; the service saw an empty value for it and its error would mislead.
            if name in self.fields and name not in self.errors:
                self.add_error(name, errors)  # type: ignore[attr-defined]
            elif name not in self.fields:
                self.add_error(None, errors)  # type: ignore[attr-defined]

    def preview(self) -> SegmentCount | None:
        """Server-side encoding/segment count of the text as typed (``None`` if empty)."""
        text = self.data.get("message") if hasattr(self.data, "get") else None
        if not text:
            return None
        return count_segments(str(text).replace("\r\n", "\n"))

    def send(self, *, defer: bool = False) -> SmsMessage:
        """Create the message through ``services`` (``defer``: queue it for a worker)."""
        if self.validated is None:
            raise ValueError("send() needs a valid form (call is_valid() first)")
        from django_smsrest import services

        data = self.validated
        return services.send_sms(
            data.message,
            list(data.recipients),
            sender=data.sender or None,
            message_type=data.message_type,
            scheduled_delivery_time=data.scheduled_delivery_time,
            groups=list(data.groups) or None,
            purpose=data.purpose,
            campaign_name=data.campaign_name or None,
            defer=defer,
        )


class _MarkedRequiredBoundField(forms.BoundField):
    """Labels its field as required (the admin's bold label, ``aria-required``) although
    the field itself is not: see :class:`ServiceRequiredField`."""

    def label_tag(
        self,
        contents: str | None = None,
        attrs: dict[str, Any] | None = None,
        label_suffix: str | None = None,
        tag: str | None = None,
    ) -> Any:
        attrs = dict(attrs or {})
        classes = attrs.get("class", "").split()
        if "required" not in classes:
            attrs["class"] = " ".join([*classes, "required"])
        return super().label_tag(contents, attrs, label_suffix, tag)


class ServiceRequiredField(forms.CharField):
    """A ``CharField`` that must be filled in, shown as required, but validated by the
    service: ``required=False`` so that an empty value gets the service's own message
    ("The message is empty...") rather than Django's generic one."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["required"] = False
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("aria-required", "true")

    def get_bound_field(self, form: forms.BaseForm, field_name: str) -> forms.BoundField:
        return _MarkedRequiredBoundField(form, self, field_name)


_RECIPIENTS_HELP = _(
    "One number per line (or separated by commas), in international format such as "
    "+39 347 123 4567; national numbers use the default region."
)
_SCHEDULE_HELP = _("Leave empty to send as soon as possible.")
_PURPOSE_HELP = _(
    "Marketing messages skip numbers on the suppression list and wait for the end of "
    "quiet hours; transactional ones (codes, reminders, notices) always go."
)


class SendSmsForm(SendSmsFormMixin, forms.Form):
    """A plain form to send an SMS from a project's own view.

    >>> form = SendSmsForm(request.POST)
    >>> if form.is_valid():
    ...     message = form.send()
    """

    # required=False on purpose here and below: an empty value gets the service's own
    # message ("The message is empty...") rather than Django's generic one.
    message = forms.CharField(
        label=_("Message"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    recipients = forms.CharField(
        label=_("Recipients"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_RECIPIENTS_HELP,
    )
    message_type = forms.ChoiceField(label=_("Message type"), choices=())
    sender = forms.CharField(label=_("Sender"), required=False, max_length=64)
    scheduled_delivery_time = forms.DateTimeField(
        label=_("Scheduled delivery time"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_SCHEDULE_HELP,
    )
    purpose = forms.ChoiceField(
        label=_("Purpose"),
        choices=Purpose.choices,
        required=False,
        initial=Purpose.TRANSACTIONAL,
        help_text=_PURPOSE_HELP,
    )
    campaign_name = forms.CharField(label=_("Campaign"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_sms_fields()


class SmsMessageAddForm(SendSmsFormMixin, forms.ModelForm):
    """The admin's add form. Saving is done by the admin through :meth:`send`."""

    message = ServiceRequiredField(
        label=_("Message"),
        widget=admin_widgets.AdminTextareaWidget(
            attrs={"rows": 5, "data-smsrest-counter": "1", "class": "vLargeTextField"}
        ),
    )
    recipients = ServiceRequiredField(
        label=_("Recipients"),
        widget=admin_widgets.AdminTextareaWidget(attrs={"rows": 4}),
        help_text=_RECIPIENTS_HELP,
    )
    groups = forms.CharField(
        label=_("Contact groups"),
        required=False,
        widget=admin_widgets.AdminTextInputWidget(),
        help_text=_(
            "Or, instead of recipients: the names of contact groups kept in the provider's "
            "panel, separated by commas."
        ),
    )
    message_type = forms.ChoiceField(label=_("Message type"), choices=())
    # No max_length here: the service's error about the sender is the one to show.
    sender = forms.CharField(
        label=_("Sender"), required=False, widget=admin_widgets.AdminTextInputWidget()
    )
    scheduled_delivery_time = forms.SplitDateTimeField(
        label=_("Scheduled delivery time"),
        required=False,
        widget=admin_widgets.AdminSplitDateTime(),
        help_text=_SCHEDULE_HELP,
    )
    # Not required: a form posted without it (an older template) sends a transactional SMS.
    purpose = forms.ChoiceField(
        label=_("Purpose"),
        choices=Purpose.choices,
        required=False,
        initial=Purpose.TRANSACTIONAL,
        help_text=_PURPOSE_HELP,
    )
    campaign_name = forms.CharField(
        label=_("Campaign"),
        required=False,
        widget=admin_widgets.AdminTextInputWidget(),
    )

    class Meta:
        model = SmsMessage
        fields = (
            "message",
            "message_type",
            "sender",
            "scheduled_delivery_time",
            "purpose",
            "campaign_name",
        )

    class Media:
        js = ("django_smsrest/sms_counter.js",)
        css = {"all": ("django_smsrest/admin.css",)}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_sms_fields()
        # The live counter turns red past the configured limit.
        self.fields["message"].widget.attrs["data-smsrest-max-segments"] = str(
            get_settings().max_segments
        )

    @property
    def preview_requested(self) -> bool:
        """The user pressed "Preview" rather than a save button."""
        return self.is_bound and "_preview" in self.data

    def is_valid(self) -> bool:
        # The admin saves whenever is_valid() is true. For "Preview" the form reports
        # itself not valid *without* any error, so the admin re-renders it (with no error
        # note, as the error list is empty) and the template shows the validated numbers.
        return super().is_valid() and not self.preview_requested

    def _post_clean(self) -> None:
        # No model validation: services.validate_sms already checked every field with the
        # gateway's rules, and the row is created by services, never by this form's save().
        # (Model validation would add duplicate, less precise errors such as max_length.)
        return

    def save(self, commit: bool = True) -> SmsMessage:
        raise NotImplementedError("SmsMessageAddForm does not save; use send()")
