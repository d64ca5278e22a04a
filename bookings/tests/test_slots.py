"""Slot computation: rules, overrides, buffers, notice, window, bookings, and DST days."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bookings import services
from bookings.models import BookingStatus
from bookings.selectors import free_slots, local_day_bounds, slots_between_dates
from tests.helpers import place_booking

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def lesson(instructor, zone: str, rules, **fields):
    fields.setdefault("duration_minutes", 60)
    fields.setdefault("min_notice_minutes", 0)
    fields.setdefault("booking_window_days", 365)
    made = services.service_create(
        instructor=instructor,
        name="Lesson",
        price_cents=1000,
        currency="USD",
        location_types=["online"],
        **fields,
    )
    services.availability_replace(instructor=instructor, timezone=zone, rules=rules)
    made.refresh_from_db()
    return made


def day_slots(service, day: date, zone: str, now: datetime) -> list[tuple[datetime, datetime]]:
    start, end = local_day_bounds(day, ZoneInfo(zone))
    found = free_slots(service=service, range_start=start, range_end=end, now=now)
    return [(s.start, s.end) for s in found]


def starts(service, day, zone, now) -> list[datetime]:
    return [s for s, _ in day_slots(service, day, zone, now)]


NOW = utc(2027, 1, 4, 0, 0)  # a Monday; every test date below lies ahead of it
MONDAY = date(2027, 1, 11)


def test_weekly_rule_gives_aligned_slots_in_the_instructors_zone(instructor):
    service = lesson(instructor, "Europe/Berlin", [(0, time(9), time(12))])
    assert day_slots(service, MONDAY, "Europe/Berlin", NOW) == [
        (utc(2027, 1, 11, 8), utc(2027, 1, 11, 9)),
        (utc(2027, 1, 11, 9), utc(2027, 1, 11, 10)),
        (utc(2027, 1, 11, 10), utc(2027, 1, 11, 11)),
    ]
    assert starts(service, MONDAY + timedelta(days=1), "Europe/Berlin", NOW) == []


def test_a_configured_interval_and_several_windows(instructor):
    rules = [(0, time(9), time(11)), (0, time(14), time(15, 30))]
    service = lesson(instructor, "UTC", rules, slot_interval_minutes=30)
    assert starts(service, MONDAY, "UTC", NOW) == [
        utc(2027, 1, 11, 9),
        utc(2027, 1, 11, 9, 30),
        utc(2027, 1, 11, 10),
        utc(2027, 1, 11, 14),
        utc(2027, 1, 11, 14, 30),
    ]


def test_an_override_replaces_the_day_and_an_empty_one_is_a_day_off(instructor):
    service = lesson(instructor, "UTC", [(day, time(9), time(12)) for day in range(7)])
    services.availability_override_set(
        instructor=instructor, day=MONDAY, intervals=[(time(18), time(20))]
    )
    services.availability_override_set(
        instructor=instructor, day=MONDAY + timedelta(days=1), intervals=[]
    )
    assert starts(service, MONDAY, "UTC", NOW) == [utc(2027, 1, 11, 18), utc(2027, 1, 11, 19)]
    assert starts(service, MONDAY + timedelta(days=1), "UTC", NOW) == []
    assert len(starts(service, MONDAY + timedelta(days=2), "UTC", NOW)) == 3
    services.availability_override_delete(instructor=instructor, day=MONDAY)
    assert len(starts(service, MONDAY, "UTC", NOW)) == 3


def test_bookings_hold_time_with_buffers_and_released_ones_do_not(instructor, student):
    service = lesson(
        instructor,
        "UTC",
        [(0, time(8), time(14))],
        buffer_before_minutes=15,
        buffer_after_minutes=15,
    )
    place_booking(service, student, utc(2027, 1, 11, 10))  # holds 09:45-11:15
    place_booking(service, student, utc(2027, 1, 11, 12), status=BookingStatus.CANCELLED)
    # 09:00 would hold 08:45-10:15 and 11:00 10:45-12:15: both overlap the booking.
    assert starts(service, MONDAY, "UTC", NOW) == [
        utc(2027, 1, 11, 8),
        utc(2027, 1, 11, 12),
        utc(2027, 1, 11, 13),
    ]


def test_another_services_buffer_is_respected(instructor, student):
    plain = lesson(instructor, "UTC", [(0, time(8), time(12))])
    padded = services.service_create(
        instructor=instructor,
        name="Padded",
        duration_minutes=60,
        price_cents=1,
        currency="USD",
        location_types=["online"],
        min_notice_minutes=0,
        booking_window_days=365,
        buffer_after_minutes=30,
    )
    place_booking(padded, student, utc(2027, 1, 11, 9))  # holds 09:00-10:30
    assert starts(plain, MONDAY, "UTC", NOW) == [utc(2027, 1, 11, 8), utc(2027, 1, 11, 11)]


def test_minimum_notice_and_booking_window(instructor):
    service = lesson(
        instructor,
        "UTC",
        [(day, time(9), time(12)) for day in range(7)],
        min_notice_minutes=120,
        booking_window_days=2,
    )
    now = utc(2027, 1, 11, 8, 30)
    assert starts(service, MONDAY, "UTC", now) == [utc(2027, 1, 11, 11)]
    found = free_slots(
        service=service, range_start=now, range_end=now + timedelta(days=10), now=now
    )
    assert all(s.start <= now + timedelta(days=2) for s in found)
    assert max(s.start for s in found) == utc(2027, 1, 12, 11)


def test_new_york_spring_forward_skips_the_missing_hour_and_keeps_wall_clock(instructor):
    rules = [(6, time(1), time(4)), (5, time(9), time(10)), (0, time(9), time(10))]
    service = lesson(instructor, "America/New_York", rules, slot_interval_minutes=30,
                     duration_minutes=30)  # fmt: skip
    now = utc(2027, 3, 1)
    # Sunday 14 March 2027: 02:00 EST jumps to 03:00 EDT.
    assert starts(service, date(2027, 3, 14), "America/New_York", now) == [
        utc(2027, 3, 14, 6, 0),  # 01:00 EST
        utc(2027, 3, 14, 6, 30),  # 01:30 EST
        utc(2027, 3, 14, 7, 0),  # 03:00 EDT (02:00 and 02:30 do not exist)
        utc(2027, 3, 14, 7, 30),  # 03:30 EDT
    ]
    # 09:00 local both sides of the change: 14:00Z on Saturday, 13:00Z on Monday.
    assert starts(service, date(2027, 3, 13), "America/New_York", now)[0] == utc(2027, 3, 13, 14)
    assert starts(service, date(2027, 3, 15), "America/New_York", now)[0] == utc(2027, 3, 15, 13)


def test_new_york_fall_back_takes_the_repeated_hour_once(instructor):
    rules = [(6, time(0, 30), time(3))]
    service = lesson(instructor, "America/New_York", rules, slot_interval_minutes=30,
                     duration_minutes=30)  # fmt: skip
    # Sunday 7 November 2027: 02:00 EDT falls back to 01:00 EST.
    found = starts(service, date(2027, 11, 7), "America/New_York", utc(2027, 11, 1))
    assert found == [
        utc(2027, 11, 7, 4, 30),  # 00:30 EDT
        utc(2027, 11, 7, 5, 0),  # 01:00 EDT, the first of the two
        utc(2027, 11, 7, 5, 30),  # 01:30 EDT
        utc(2027, 11, 7, 7, 0),  # 02:00 EST
        utc(2027, 11, 7, 7, 30),  # 02:30 EST
    ]
    assert len(set(found)) == len(found)


def test_berlin_both_transitions(instructor):
    service = lesson(instructor, "Europe/Berlin", [(6, time(1), time(4))])
    # Sunday 28 March 2027: 02:00 CET jumps to 03:00 CEST.
    assert starts(service, date(2027, 3, 28), "Europe/Berlin", utc(2027, 3, 1)) == [
        utc(2027, 3, 28, 0),  # 01:00 CET
        utc(2027, 3, 28, 1),  # 03:00 CEST
    ]
    # Sunday 31 October 2027: 03:00 CEST falls back to 02:00 CET.
    assert starts(service, date(2027, 10, 31), "Europe/Berlin", utc(2027, 10, 1)) == [
        utc(2027, 10, 30, 23),  # 01:00 CEST
        utc(2027, 10, 31, 0),  # 02:00 CEST, taken once
        utc(2027, 10, 31, 2),  # 03:00 CET
    ]
    # 09:00 Berlin is 08:00Z in winter and 07:00Z in summer.
    summer = lesson(instructor, "Europe/Berlin", [(4, time(9), time(10))])
    assert starts(summer, date(2027, 3, 26), "Europe/Berlin", utc(2027, 3, 1)) == [
        utc(2027, 3, 26, 8)
    ]
    assert starts(summer, date(2027, 4, 2), "Europe/Berlin", utc(2027, 3, 1)) == [
        utc(2027, 4, 2, 7)
    ]


def test_students_in_other_zones_see_the_same_instants(instructor, settings):
    service = lesson(
        instructor, "Europe/Berlin", [(day, time(9), time(17)) for day in range(7)],
        booking_window_days=30,
    )  # fmt: skip
    ids = {"instructor_id": instructor.pk, "service_id": service.pk}
    start, end = date.today() + timedelta(days=3), date.today() + timedelta(days=6)
    tokyo = slots_between_dates(**ids, start=start, end=end, tz="Asia/Tokyo")
    la = slots_between_dates(**ids, start=start, end=end, tz="America/Los_Angeles")
    # Both ask for four local days; compare the instants both ranges cover.
    shared_from = max(tokyo[0].start, la[0].start)
    shared_to = min(tokyo[-1].start, la[-1].start)
    pick = [s for s in tokyo if shared_from <= s.start <= shared_to]
    assert pick and pick == [s for s in la if shared_from <= s.start <= shared_to]
    # And the local-date boundaries are the caller's: Tokyo's first day starts at 15:00Z.
    first_tokyo_day, _ = local_day_bounds(start, ZoneInfo("Asia/Tokyo"))
    assert all(s.start >= first_tokyo_day for s in tokyo)
    assert all(s.start.astimezone(ZoneInfo("Europe/Berlin")).hour in range(9, 17) for s in tokyo)
