"""Issue 23 item 5: quiet hours. A marketing message due while its recipients are inside
``SMSREST["QUIET_HOURS"]`` (in their own time zone, from phonenumbers) is scheduled at the
gateway for the end; transactional and explicitly scheduled messages are never moved;
wall-clock times hold across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from freezegun import freeze_time

from django_smsrest import quiet, services
from django_smsrest.backends import locmem
from django_smsrest.models import Status
from tests.settings import SMSREST

ROME = ZoneInfo("Europe/Rome")
IT, NY, SYD = "+393471234567", "+12125551234", "+61412345678"
NIGHT = (time(21, 0), time(9, 0))
QUIET = {**SMSREST, "QUIET_HOURS": ("21:00", "09:00")}


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)


# --- the rule -----------------------------------------------------------------------------


def test_zones_from_the_number() -> None:
    assert quiet.zone_for_number(IT, "UTC") == "Europe/Rome"
    assert quiet.zone_for_number(NY, "UTC") == "America/New_York"
    # An Australian mobile spans zones with different clocks: TIME_ZONE if among them.
    assert quiet.zone_for_number(SYD, "Australia/Perth") == "Australia/Perth"
    assert quiet.zone_for_number("+999", "Europe/Rome") == "Europe/Rome"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (rome(2026, 12, 7, 20, 59), None),
        (rome(2026, 12, 7, 21, 0), rome(2026, 12, 8, 9, 0)),
        (rome(2026, 12, 8, 3, 0), rome(2026, 12, 8, 9, 0)),
        (rome(2026, 12, 8, 9, 0), None),
    ],
)
def test_until_the_end_in_rome(now: datetime, expected: datetime | None) -> None:
    assert quiet.quiet_until(now, {"Europe/Rome"}, *NIGHT) == expected


def test_spring_forward_night_ends_at_nine_local() -> None:
    # 29 March 2026: clocks go from 02:00 to 03:00 in Rome. The night is an hour shorter,
    # and it still ends at 09:00 local, which is 07:00 UTC (08:00 UTC the day before).
    until = quiet.quiet_until(rome(2026, 3, 28, 22, 30), {"Europe/Rome"}, *NIGHT)
    assert until == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert until is not None and until.astimezone(ROME).hour == 9
    before = quiet.quiet_until(rome(2026, 3, 27, 22, 30), {"Europe/Rome"}, *NIGHT)
    assert before == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)


def test_fall_back_night_ends_at_nine_local() -> None:
    # 25 October 2026: 03:00 becomes 02:00 again; the hour 02:00-03:00 happens twice.
    until = quiet.quiet_until(rome(2026, 10, 24, 23, 0), {"Europe/Rome"}, *NIGHT)
    assert until == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    during_fold = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first time
    assert quiet.quiet_until(during_fold, {"Europe/Rome"}, *NIGHT) == until


def test_quiet_hours_inside_one_day_and_several_zones() -> None:
    lunch = (time(12, 0), time(14, 0))
    assert quiet.quiet_until(rome(2026, 12, 7, 13, 0), {"Europe/Rome"}, *lunch) == rome(
        2026, 12, 7, 14, 0
    )
    # 22:00 in Rome is 16:00 in New York. 09:00 in Rome is 03:00 in New York (night
    # there): the first moment neither is inside quiet hours is 09:00 in New York,
    # 15:00 in Rome.
    now = rome(2026, 12, 7, 22, 0)
    until = quiet.quiet_until(now, {"Europe/Rome", "America/New_York"}, *NIGHT)
    assert until == rome(2026, 12, 8, 15, 0)
    # Zones twelve hours apart never share a waking moment: the latest end is taken.
    far = quiet.quiet_until(now, {"Europe/Rome", "Pacific/Auckland"}, *NIGHT)
    assert far == rome(2026, 12, 8, 9, 0)


# --- in the outbox ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("clean_gateway")
@override_settings(SMSREST=QUIET)
def test_marketing_at_night_is_scheduled_at_the_gateway_for_nine() -> None:
    with freeze_time(rome(2026, 12, 7, 23, 15)):
        msg = services.send_sms("Saldi!", [IT], purpose="marketing")
    assert msg.status == Status.SCHEDULED
    assert msg.scheduled_delivery_time == rome(2026, 12, 8, 9, 0)
    [order] = locmem.outbox
    assert order.scheduled_delivery_time == rome(2026, 12, 8, 9, 0)


@pytest.mark.django_db
@pytest.mark.usefixtures("clean_gateway")
@override_settings(SMSREST=QUIET)
def test_transactional_and_daytime_and_explicit_schedules_are_never_moved() -> None:
    with freeze_time(rome(2026, 12, 7, 23, 15)):
        code = services.send_sms("Codice 123456", [IT])
        explicit = services.send_sms(
            "Saldi!",
            [IT],
            purpose="marketing",
            scheduled_delivery_time=rome(2026, 12, 7, 23, 45),
        )
        far = services.send_sms("Sale!", [NY], purpose="marketing")  # 17:15 in New York
    with freeze_time(rome(2026, 12, 7, 10, 0)):
        day = services.send_sms("Saldi!", [IT], purpose="marketing")
    assert code.status == Status.SENT and code.scheduled_delivery_time is None
    assert explicit.scheduled_delivery_time == rome(2026, 12, 7, 23, 45)
    assert far.status == Status.SENT and far.scheduled_delivery_time is None
    assert day.status == Status.SENT and day.scheduled_delivery_time is None
    assert [o.scheduled_delivery_time for o in locmem.outbox] == [
        None,
        rome(2026, 12, 7, 23, 45),
        None,
        None,
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("clean_gateway")
def test_off_by_default() -> None:
    with freeze_time(rome(2026, 12, 7, 23, 15)):
        msg = services.send_sms("Saldi!", [IT], purpose="marketing")
    assert msg.status == Status.SENT and msg.scheduled_delivery_time is None


def test_a_bad_setting_names_the_key() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from django_smsrest.conf import build_settings

    with pytest.raises(ImproperlyConfigured, match="QUIET_HOURS"):
        build_settings({**SMSREST, "QUIET_HOURS": ("21:00", "21:00")})
    with pytest.raises(ImproperlyConfigured, match="QUIET_HOURS"):
        build_settings({**SMSREST, "QUIET_HOURS": "21-9"})
    assert build_settings({**SMSREST, "QUIET_HOURS": ["21:30", "8:00"]}).quiet_hours == (
        time(21, 30),
        time(8, 0),
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("clean_gateway")
@override_settings(SMSREST=QUIET)
def test_the_command_shows_when_it_will_go() -> None:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    with freeze_time(rome(2026, 12, 7, 23, 15)):
        call_command("send_sms", "--to", IT, "--marketing", "Saldi!", stdout=out)
    assert "Scheduled at the gateway" in out.getvalue()
    assert "for 2026-12-08T09:00:00+01:00" in out.getvalue()
