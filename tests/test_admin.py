"""The SmsMessage admin: changelist cost, search, the add form, actions, buttons, permissions.

Sending goes through the locmem backend (tests/settings.py), so "sent" means "accepted by
the in-memory gateway"; ``locmem.outbox`` shows what went out.
"""

from __future__ import annotations

from datetime import timedelta

import django
import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_smsrest import services
from django_smsrest.admin.changelist import CREDITS_CACHE_KEY
from django_smsrest.admin.common import RECIPIENT_INLINE_LIMIT
from django_smsrest.backends import locmem
from django_smsrest.exceptions import GatewayConnectionError
from django_smsrest.models import SmsMessage, Status
from django_smsrest.testing.tasks import no_task_worker as no_worker

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_gateway")]

CHANGELIST = "admin:django_smsrest_smsmessage_changelist"
ADD = "admin:django_smsrest_smsmessage_add"
NUMBER = "+393471234567"
OTHER = "+393481234567"


@pytest.fixture
def admin_client_(db) -> Client:
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _staff(*perms: str) -> Client:
    user = User.objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="django_smsrest", codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def _queued(text: str = "Hello", numbers: list[str] | None = None) -> SmsMessage:
    with no_worker:
        msg = services.queue_sms(text, numbers or [NUMBER])
    msg.refresh_from_db()
    assert msg.status == Status.QUEUED
    return msg


def _sent(text: str = "Hello", numbers: list[str] | None = None) -> SmsMessage:
    msg = services.send_sms(text, numbers or [NUMBER])
    assert msg.status == Status.SENT
    return msg


def _action(client: Client, action: str, pks: list[int], **extra: str):
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


# --- changelist -----------------------------------------------------------------------


def test_changelist_shows_badge_count_and_escaped_text(admin_client_: Client) -> None:
    _queued("<script>alert(1)</script> hi", [NUMBER, OTHER])
    response = admin_client_.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert "smsrest-badge smsrest-status-queued" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; hi" in html
    assert "<script>alert(1)" not in html
    assert '<td class="field-recipient_count">2</td>' in html


def _changelist_queries(client: Client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    rows = response.content.decode().count('name="_selected_action"')
    return len(ctx.captured_queries), rows


def test_changelist_query_count_does_not_grow_with_rows(admin_client_: Client) -> None:
    for i in range(10):
        _queued(f"message {i}", [NUMBER, OTHER])
    small, rows = _changelist_queries(admin_client_, reverse(CHANGELIST) + "?all=")
    assert rows == 10
    for i in range(90):
        _queued(f"more {i}", [NUMBER, OTHER])
    large, rows = _changelist_queries(admin_client_, reverse(CHANGELIST) + "?all=")
    assert rows == 100
    assert large == small
    # Filtered + searched: still constant, and only one COUNT (no full-count query).
    url = reverse(CHANGELIST) + "?status__exact=queued&q=more"
    with CaptureQueriesContext(connection) as ctx:
        assert admin_client_.get(url).status_code == 200
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1


def test_search_by_number_in_any_format_gives_each_message_once(admin_client_: Client) -> None:
    both = _queued("to both", [NUMBER, OTHER])
    _queued("someone else", ["+393491111111"])
    response = admin_client_.get(reverse(CHANGELIST), {"q": "347 123 4567"})
    html = response.content.decode()
    assert html.count('name="_selected_action"') == 1
    assert f'value="{both.pk}"' in html


def test_search_by_exact_order_id_and_by_text(admin_client_: Client) -> None:
    first = _queued("apples")
    _queued("pears")
    html = admin_client_.get(reverse(CHANGELIST), {"q": first.order_id}).content.decode()
    assert html.count('name="_selected_action"') == 1
    assert f'value="{first.pk}"' in html
    html = admin_client_.get(reverse(CHANGELIST), {"q": "PEAR"}).content.decode()
    assert html.count('name="_selected_action"') == 1


def test_message_type_filter_lists_brand_types_and_filters(admin_client_: Client) -> None:
    _queued("default type")
    html = admin_client_.get(reverse(CHANGELIST)).content.decode()
    assert "?message_type=LL" in html  # from the brand preset, not from the table
    html = admin_client_.get(reverse(CHANGELIST), {"message_type": "LL"}).content.decode()
    assert 'name="_selected_action"' not in html


def test_credits_line_cached_and_failure_is_a_warning(admin_client_: Client) -> None:
    html = admin_client_.get(reverse(CHANGELIST)).content.decode()
    assert 'id="smsrest-credits"' in html and "Credits left" in html
    calls = locmem.calls("get_status")
    admin_client_.get(reverse(CHANGELIST))
    assert locmem.calls("get_status") == calls  # cached

    cache.delete(CREDITS_CACHE_KEY)
    locmem.fail_next("get_status", GatewayConnectionError("The gateway cannot be reached"))
    response = admin_client_.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert "smsrest-credits-error" in html
    assert "The gateway cannot be reached" in html


# --- add form -------------------------------------------------------------------------


def test_add_form_shows_the_services_validation_errors(admin_client_: Client) -> None:
    data = {
        "message": "",
        "recipients": "+39 123\nnot a number",
        "message_type": "N",
        "sender": "",
        "scheduled_delivery_time_0": "",
        "scheduled_delivery_time_1": "",
        "_continue": "Send",
    }
    response = admin_client_.post(reverse(ADD), data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    with pytest.raises(django.core.exceptions.ValidationError) as exc:
        services.validate_sms("", ["+39 123", "not a number"], message_type="N")
    expected = {
        k: [str(m) for e in v for m in e.messages] for k, v in exc.value.error_dict.items()
    }
    assert set(expected) == {"message", "recipients"}
    for field, messages in expected.items():
        assert form.errors[field] == messages
    assert SmsMessage.objects.count() == 0
    assert locmem.outbox == []


def test_add_form_past_schedule_error_on_its_field(admin_client_: Client) -> None:
    past = timezone.localtime() - timedelta(days=1)
    data = {
        "message": "Hi",
        "recipients": NUMBER,
        "message_type": "N",
        "scheduled_delivery_time_0": past.strftime("%Y-%m-%d"),
        "scheduled_delivery_time_1": past.strftime("%H:%M:%S"),
        "_continue": "Send",
    }
    response = admin_client_.post(reverse(ADD), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["scheduled_delivery_time"]
    assert SmsMessage.objects.count() == 0


def test_preview_shows_cost_and_sends_nothing(admin_client_: Client) -> None:
    data = {
        "message": "x" * 161,
        "recipients": f"{NUMBER}, {OTHER}",
        "message_type": "N",
        "_preview": "Preview",
    }
    response = admin_client_.post(reverse(ADD), data)
    assert response.status_code == 200
    summary = response.context["smsrest_summary"]
    assert summary["validated"] is True
    assert (summary["segments"], summary["recipients"], summary["credits"]) == (2, 2, 4)
    html = response.content.decode()
    assert "errornote" not in html
    assert SmsMessage.objects.count() == 0
    assert locmem.outbox == []


def test_add_form_sends_through_services(
    admin_client_: Client, django_capture_on_commit_callbacks
) -> None:
    data = {
        "message": "Ciao è\r\nA presto",
        "recipients": f"347 123 4567\n{OTHER}",
        "message_type": "N",
        "sender": "",
        "_continue": "Send",
    }
    # The add view queues the message; the send task runs when the transaction commits,
    # then the banner is written from the row the send left (tests/test_admin_feedback.py).
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client_.post(reverse(ADD), data)
    assert len(callbacks) == 2
    msg = SmsMessage.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk])
    assert msg.status == Status.SENT
    assert sorted(msg.recipients.values_list("phone_number", flat=True)) == [NUMBER, OTHER]
    assert len(locmem.outbox) == 1
    assert locmem.outbox[0].message == "Ciao è\nA presto"  # CRLF from the browser -> LF


def test_add_form_does_not_escape_the_preview_through_the_template(
    admin_client_: Client,
) -> None:
    response = admin_client_.get(reverse(ADD))
    html = response.content.decode()
    assert response.status_code == 200
    assert "sms_counter.js" in html
    assert 'name="_preview"' in html
    # Choices come from the brand in settings.
    assert '<option value="LL"' in html


# --- the view page --------------------------------------------------------------------


def test_change_page_is_read_only_with_buttons_for_the_status(admin_client_: Client) -> None:
    msg = _queued()
    html = admin_client_.get(
        reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk])
    ).content.decode()
    assert 'name="_save"' not in html
    assert 'name="message"' not in html  # not an input: read-only
    assert reverse("admin:django_smsrest_smsmessage_send", args=[msg.pk]) in html
    assert reverse("admin:django_smsrest_smsmessage_cancel", args=[msg.pk]) in html
    assert reverse("admin:django_smsrest_smsmessage_resend", args=[msg.pk]) not in html


def test_a_login_code_has_no_resend_button_and_the_action_skips_it(admin_client_: Client) -> None:
    """A code is never resent (services.resend refuses it): the page offers no Resend, and
    the action counts it as skipped, not as an error."""
    code = services.send_code("Your code is 424242", NUMBER, code="424242")
    assert code.status == Status.SENT
    sent = _sent("not a code")
    page = reverse("admin:django_smsrest_smsmessage_change", args=[code.pk])
    html = admin_client_.get(page).content.decode()
    assert reverse("admin:django_smsrest_smsmessage_resend", args=[code.pk]) not in html
    other = reverse("admin:django_smsrest_smsmessage_change", args=[sent.pk])
    assert reverse("admin:django_smsrest_smsmessage_resend", args=[sent.pk]) in (
        admin_client_.get(other).content.decode()
    )
    response = _action(admin_client_, "resend", [code.pk], post="yes")
    text = response.content.decode()
    assert "1 message skipped" in text
    assert 'class="error"' not in text
    assert not SmsMessage.objects.filter(resend_of=code).exists()


def test_recipient_inline_is_capped_and_links_to_all(admin_client_: Client) -> None:
    numbers = [f"+3934712{i:05d}" for i in range(RECIPIENT_INLINE_LIMIT + 10)]
    msg = _queued("many", numbers)
    url = reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk])
    with CaptureQueriesContext(connection) as ctx:
        html = admin_client_.get(url).content.decode()
    assert len(ctx.captured_queries) < 20  # not one per recipient
    assert html.count('class="field-phone_number"') == RECIPIENT_INLINE_LIMIT
    assert f"Showing the first {RECIPIENT_INLINE_LIMIT} of {len(numbers)} recipients" in html
    all_url = reverse("admin:django_smsrest_smsrecipient_changelist") + f"?message={msg.pk}"
    assert all_url in html
    listing = admin_client_.get(all_url).content.decode()
    assert listing.count('class="field-phone_number"') == len(numbers)


# --- actions --------------------------------------------------------------------------


def test_send_now_action_sends_queued_messages(admin_client_: Client) -> None:
    first, second = _queued("one"), _queued("two")
    done = _sent("already")
    response = _action(admin_client_, "send_now", [first.pk, second.pk, done.pk])
    assert response.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == Status.SENT
    assert len(locmem.outbox) == 3  # the two queued + the one sent by _sent
    text = response.content.decode()
    assert "2 messages done" in text
    assert "1 message skipped" in text


def test_resend_action_confirms_first_then_creates_new_messages(
    admin_client_: Client, django_capture_on_commit_callbacks
) -> None:
    old = _sent("again please", [NUMBER, OTHER])
    locmem.set_delivery_state("DLVRD", to=NUMBER)
    services.refresh_status(old)
    response = _action(admin_client_, "resend", [old.pk])
    html = response.content.decode()
    assert "This is what already went out" in html
    assert "smsrest-status-sent" in html
    # Per-recipient states as the gateway reported them.
    assert "Delivered (DLVRD): 1" in html
    assert "Sent to the operator (SENT): 1" in html
    assert SmsMessage.objects.count() == 1
    assert len(locmem.outbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = _action(admin_client_, "resend", [old.pk], post="yes")
    assert response.status_code == 200
    new = SmsMessage.objects.exclude(pk=old.pk).get()
    assert new.resend_of_id == old.pk
    assert new.status == Status.SENT
    assert len(locmem.outbox) == 2
    assert new.order_id != old.order_id


def test_resend_refused_while_in_flight(admin_client_: Client) -> None:
    queued = _queued()
    response = _action(admin_client_, "resend", [queued.pk], post="yes")
    assert "skipped" in response.content.decode()
    assert SmsMessage.objects.count() == 1


def test_refresh_action_records_delivery(admin_client_: Client) -> None:
    msg = _sent("track me")
    locmem.set_delivery_state("DLVRD")
    _action(admin_client_, "refresh_status", [msg.pk])
    msg.refresh_from_db()
    assert msg.status == Status.DELIVERED
    assert list(msg.recipients.values_list("state", flat=True)) == ["DLVRD"]


def test_cancel_action_cancels_queued_and_scheduled(admin_client_: Client) -> None:
    queued = _queued("later")
    scheduled = services.send_sms(
        "tomorrow", [NUMBER], scheduled_delivery_time=timezone.now() + timedelta(days=1)
    )
    assert scheduled.status == Status.SCHEDULED
    _action(admin_client_, "cancel_scheduled", [queued.pk, scheduled.pk])
    queued.refresh_from_db()
    scheduled.refresh_from_db()
    assert queued.status == scheduled.status == Status.CANCELLED
    assert locmem.calls("cancel") == 1  # only the scheduled one was at the gateway


def test_action_errors_are_messages_not_500(admin_client_: Client) -> None:
    msg = _sent()
    locmem.fail_next("get_order", GatewayConnectionError("gateway unreachable"))
    response = _action(admin_client_, "refresh_status", [msg.pk])
    assert response.status_code == 200
    assert "gateway unreachable" in response.content.decode()


# --- change-page buttons --------------------------------------------------------------


def _button(name: str, pk: int) -> str:
    return reverse(f"admin:django_smsrest_smsmessage_{name}", args=[pk])


def test_send_button_posts_and_sends(admin_client_: Client) -> None:
    msg = _queued()
    response = admin_client_.post(_button("send", msg.pk))
    assert response.status_code == 302
    msg.refresh_from_db()
    assert msg.status == Status.SENT


def test_resend_button_confirms_then_redirects_to_the_new_message(admin_client_: Client) -> None:
    old = _sent()
    response = admin_client_.post(_button("resend", old.pk))
    assert response.status_code == 200
    assert "Yes, send again" in response.content.decode()
    assert SmsMessage.objects.count() == 1
    response = admin_client_.post(_button("resend", old.pk), {"post": "yes"})
    new = SmsMessage.objects.exclude(pk=old.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:django_smsrest_smsmessage_change", args=[new.pk])


@pytest.mark.parametrize("name", ["send", "resend", "refresh", "cancel"])
def test_buttons_refuse_get_with_405(admin_client_: Client, name: str) -> None:
    msg = _queued()
    response = admin_client_.get(_button(name, msg.pk))
    assert response.status_code == 405
    msg.refresh_from_db()
    assert msg.status == Status.QUEUED
    assert locmem.outbox == []


@pytest.mark.parametrize("name", ["send", "resend", "refresh", "cancel"])
def test_buttons_redirect_anonymous_to_login(name: str) -> None:
    msg = _queued()
    for method in (Client().get, Client().post):
        response = method(_button(name, msg.pk))
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]
    msg.refresh_from_db()
    assert msg.status == Status.QUEUED


def test_buttons_need_csrf_token(db) -> None:
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    msg = _queued()
    response = client.post(_button("send", msg.pk))
    assert response.status_code == 403
    msg.refresh_from_db()
    assert msg.status == Status.QUEUED


# --- permissions ----------------------------------------------------------------------


def test_staff_without_send_permission_can_look_but_not_send(db) -> None:
    client = _staff("view_smsmessage", "add_smsmessage")
    msg = _queued()
    sent = _sent()
    changelist = client.get(reverse(CHANGELIST))
    assert changelist.status_code == 200
    html = changelist.content.decode()
    for action in ("send_now", "resend", "refresh_status", "cancel_scheduled"):
        assert f'value="{action}"' not in html
    # Posting the action anyway does nothing.
    _action(client, "send_now", [msg.pk])
    _action(client, "resend", [sent.pk], post="yes")
    msg.refresh_from_db()
    assert msg.status == Status.QUEUED
    assert SmsMessage.objects.count() == 2
    # The buttons: not shown, and 403 when posted to.
    page = client.get(reverse("admin:django_smsrest_smsmessage_change", args=[msg.pk]))
    assert page.status_code == 200
    assert _button("send", msg.pk) not in page.content.decode()
    for name in ("send", "resend", "refresh", "cancel"):
        assert client.post(_button(name, msg.pk), {"post": "yes"}).status_code == 403
    # Adding a message sends it: the add form needs the send permission too.
    assert client.get(reverse(ADD)).status_code == 403
    assert len(locmem.outbox) == 1  # only _sent()


def test_staff_with_send_permission_can_send(db) -> None:
    client = _staff("view_smsmessage", "add_smsmessage", "send_smsmessage")
    msg = _queued()
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert 'value="send_now"' in html
    _action(client, "send_now", [msg.pk])
    msg.refresh_from_db()
    assert msg.status == Status.SENT
    assert client.get(reverse(ADD)).status_code == 200


def test_search_finds_a_message_by_any_of_its_order_ids(admin_client_: Client) -> None:
    from django.conf import settings

    with override_settings(SMSREST={**settings.SMSREST, "MAX_RECIPIENTS_PER_ORDER": 1}):
        msg = _queued("split in two orders", [NUMBER, OTHER])
    second = msg.orders.get(index=1)
    assert second.order_id != msg.order_id
    html = admin_client_.get(reverse(CHANGELIST), {"q": second.order_id}).content.decode()
    assert html.count('name="_selected_action"') == 1
    assert f'value="{msg.pk}"' in html
