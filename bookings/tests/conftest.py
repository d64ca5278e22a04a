"""An instructor with a service and weekly hours, and helpers to read what was published."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from bookings import services
from bookings.models import Booking, BookingStatus
from hub.models import Event


@pytest.fixture
def instructor(make_user):
    return make_user("instructor", timezone="Europe/Berlin")


@pytest.fixture
def student(make_user):
    return make_user("student", timezone="America/New_York")


@pytest.fixture
def service(instructor):
    """A one-hour lesson, no notice, every day 09:00-17:00 Berlin time."""
    made = services.service_create(
        instructor=instructor,
        name="Piano",
        duration_minutes=60,
        price_cents=4500,
        currency="eur",
        location_types=["online", "instructor_location"],
        min_notice_minutes=0,
        booking_window_days=60,
    )
    services.availability_replace(
        instructor=instructor,
        timezone="Europe/Berlin",
        rules=[(day, time(9), time(17)) for day in range(7)],
    )
    return made


def place_booking(service, student, start, status=BookingStatus.CONFIRMED, **fields) -> Booking:
    """A booking row at any time, past ones included: test data, not a service call."""
    end = start + timedelta(minutes=service.duration_minutes)
    return Booking.objects.create(
        student=student,
        instructor_id=service.instructor_id,
        service=service,
        status=status,
        start=start,
        end=end,
        hold_start=start - timedelta(minutes=service.buffer_before_minutes),
        hold_end=end + timedelta(minutes=service.buffer_after_minutes),
        location_type="online",
        price_cents=service.price_cents,
        currency=service.currency,
        **fields,
    )


def events_on(topic: str, after_seq: int = 0) -> list[tuple[str, dict]]:
    return [
        (e.type, e.data)
        for e in Event.objects.filter(topic__name=topic, seq__gt=after_seq).order_by("seq")
    ]


def last_seq(topic: str) -> int:
    event = Event.objects.filter(topic__name=topic).order_by("-seq").first()
    return event.seq if event else 0


def next_free_start(service, *, days_ahead: int = 1):
    from bookings.selectors import free_slots

    begin = timezone.now() + timedelta(days=days_ahead)
    slots = free_slots(service=service, range_start=begin, range_end=begin + timedelta(days=7))
    return slots[0].start


def next_free_start_with_room(service, *, hours: int, days_ahead: int = 1):
    """A free start whose next `hours` hourly starts are free too, whatever the time of day.

    The first free start tomorrow may be the day's last one, leaving no room to move later.
    """
    from bookings.selectors import free_slots

    begin = timezone.now() + timedelta(days=days_ahead)
    slots = free_slots(service=service, range_start=begin, range_end=begin + timedelta(days=7))
    starts = {s.start for s in slots}
    return next(
        s.start
        for s in slots
        if all(s.start + timedelta(hours=h) in starts for h in range(1, hours + 1))
    )
