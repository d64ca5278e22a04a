"""A refused booking time says why: the past, the minimum notice, the booking window, or taken.

The status stays 409 `conflict` (api.md: "409 if the slot is not free"); the reason is in
`message` and in `details`.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import services
from conventions.times import iso_z
from tests.helpers import assert_error, next_free_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_student(api, token_for, student):
    return api(token_for(student))


@pytest.fixture
def with_notice(instructor, service):
    """12 hours' notice, at most 14 days ahead (the instructor's hours are the fixture's)."""
    return services.service_create(
        instructor=instructor, name="Organ", duration_minutes=60, price_cents=5000,
        currency="EUR", location_types=["online"], min_notice_minutes=720,
        booking_window_days=14,
    )  # fmt: skip


def book(client, service, start):
    body = {"service_id": service.pk, "start": iso_z(start), "location_type": "online"}
    return client.call("post", "/api/v1/bookings", body)


def refusal(response) -> tuple[str, dict]:
    error = assert_error(response, 409, "conflict")
    return error["message"], error["details"]


def hour_from_now(hours: float):
    return timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)


def test_a_start_in_the_past_says_so(as_student, service):
    message, details = refusal(book(as_student, service, hour_from_now(-2)))
    assert message == "This time is in the past."
    assert details["reason"] == "past" and details["start"] == "in the past"
    assert details["earliest"] >= iso_z(timezone.now() - timedelta(seconds=5))


def test_a_start_inside_the_minimum_notice_says_so_and_when_is_possible(as_student, with_notice):
    before = timezone.now()
    message, details = refusal(book(as_student, with_notice, hour_from_now(2)))
    assert "at least 12 hours ahead" in message and details["earliest"] in message
    assert (details["reason"], details["min_notice_minutes"]) == ("min_notice", 720)
    assert details["earliest"] >= iso_z(before + timedelta(hours=12))


def test_a_start_beyond_the_booking_window_says_so(as_student, with_notice):
    message, details = refusal(book(as_student, with_notice, hour_from_now(15 * 24)))
    assert "at most 14 days ahead" in message
    assert (details["reason"], details["booking_window_days"]) == ("booking_window", 14)
    assert details["window_ends"] <= iso_z(timezone.now() + timedelta(days=14))


def test_a_taken_or_unoffered_time_is_still_not_a_free_slot(as_student, service):
    start = next_free_start(service)
    assert book(as_student, service, start).status_code == 201
    for refused in (start, start + timedelta(minutes=30)):
        message, details = refusal(book(as_student, service, refused))
        assert message == "This time is not a free slot of the service."
        assert details == {"start": "not a free slot", "reason": "not_free"}


def test_a_reschedule_gives_the_same_reasons(as_student, with_notice):
    start = next_free_start(with_notice)
    booking_id = book(as_student, with_notice, start).json()["id"]
    path = f"/api/v1/bookings/{booking_id}/reschedule"
    for moment, reason in [
        (hour_from_now(-2), "past"),
        (hour_from_now(2), "min_notice"),
        (hour_from_now(15 * 24), "booking_window"),
    ]:
        response = as_student.call("post", path, {"start": iso_z(moment)})
        assert refusal(response)[1]["reason"] == reason
