"""An instructor (the root conftest's) with a service and weekly hours."""

from datetime import time

import pytest

from bookings import services


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
