"""Instructors change and retire their services over REST; bookings already made keep
the terms they were made on, and calendars hear that the slots may have moved."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Service
from conventions.times import iso_z
from tests.helpers import assert_error, events_on, last_seq, next_free_start

pytestmark = pytest.mark.django_db


def path(service_id) -> str:
    return f"/api/v1/instructors/me/services/{service_id}"


def book(client, service, start):
    body = {"service_id": service.pk, "start": iso_z(start), "location_type": "online"}
    response = client.call("post", "/api/v1/bookings", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_every_term_can_be_changed_and_calendars_hear_of_it(as_instructor, instructor, service):
    topic = f"availability:{instructor.pk}"
    seq = last_seq(topic)
    changes = {
        "name": "Jazz piano",
        "duration_minutes": 90,
        "price_cents": 6000,
        "currency": "usd",
        "location_types": ["student_location", "online"],
        "buffer_before_minutes": 10,
        "buffer_after_minutes": 15,
        "min_notice_minutes": 120,
        "booking_window_days": 90,
        "slot_interval_minutes": 30,
    }
    before = timezone.now()
    response = as_instructor.call("patch", path(service.pk), changes)
    after = timezone.now()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        **changes,
        "id": service.pk,
        "currency": "USD",
        "location_types": ["online", "student_location"],
    }
    me = as_instructor.call("get", "/api/v1/instructors/me").json()
    assert me["services"] == [body]
    (change,) = events_on(topic, after_seq=seq)
    assert change[0] == "availability.changed"
    data = change[1]
    assert data["instructor_id"] == instructor.pk and data["reason"] == "service"
    # The longer of the old window (60 days) and the new one (90 days), from now.
    assert iso_z(before) <= data["start"] <= iso_z(after)
    assert data["end"] >= iso_z(before + timedelta(days=90))
    # Fields left out stay; slot_interval_minutes may go back to null (the duration).
    again = as_instructor.call("patch", path(service.pk), {"slot_interval_minutes": None})
    assert again.json() == {**body, "slot_interval_minutes": None}
    # A shorter window still announces the old, longer one: its far slots are gone.
    seq = last_seq(topic)
    as_instructor.call("patch", path(service.pk), {"booking_window_days": 7})
    (change,) = events_on(topic, after_seq=seq)
    assert change[1]["end"] >= iso_z(before + timedelta(days=90))


def test_an_empty_change_changes_nothing_and_announces_nothing(as_instructor, instructor, service):
    seq = last_seq(f"availability:{instructor.pk}")
    response = as_instructor.call("patch", path(service.pk), {})
    assert response.status_code == 200 and response.json()["price_cents"] == 4500
    assert events_on(f"availability:{instructor.pk}", after_seq=seq) == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"price_cents": -1}, "price_cents"),
        ({"price_cents": None}, "price_cents"),
        ({"duration_minutes": 4}, "duration_minutes"),
        ({"duration_minutes": 721}, "duration_minutes"),
        ({"currency": "euro"}, "currency"),
        ({"location_types": []}, "location_types"),
        ({"location_types": ["moon"]}, "location_types"),
        ({"buffer_after_minutes": 241}, "buffer_after_minutes"),
        ({"min_notice_minutes": -5}, "min_notice_minutes"),
        ({"booking_window_days": 366}, "booking_window_days"),
        ({"booking_window_days": 0}, "booking_window_days"),
        ({"slot_interval_minutes": 4}, "slot_interval_minutes"),
        ({"name": "   "}, "name"),
    ],
)
def test_bad_terms_are_422_with_details(as_instructor, service, body, field):
    error = assert_error(as_instructor.call("patch", path(service.pk), body), 422, "invalid")
    assert field in str(error["details"])
    assert Service.objects.get(pk=service.pk).price_cents == 4500


def test_bookings_keep_the_terms_they_were_made_on(as_student, as_instructor, service):
    start = next_free_start(service)
    made = book(as_student, service, start)
    response = as_instructor.call(
        "patch",
        path(service.pk),
        {"price_cents": 9900, "duration_minutes": 30, "currency": "usd", "buffer_after_minutes": 5},
    )
    assert response.status_code == 200
    kept = as_student.call("get", f"/api/v1/bookings/{made['id']}").json()
    assert (kept["price_cents"], kept["currency"]) == (4500, "EUR")
    assert (kept["start"], kept["end"]) == (made["start"], made["end"])
    assert kept["service"]["duration_minutes"] == 60  # the lesson's length, not today's
    # A new booking is made on the new terms.
    fresh = book(as_student, service, next_free_start(service, days_ahead=3))
    assert (fresh["price_cents"], fresh["currency"]) == (9900, "USD")
    assert fresh["service"]["duration_minutes"] == 30


def test_a_reschedule_keeps_the_length_the_booking_was_made_with(
    as_student, as_instructor, service
):
    made = book(as_student, service, next_free_start(service))
    as_instructor.call("patch", path(service.pk), {"duration_minutes": 30, "price_cents": 1})
    new_start = next_free_start(service, days_ahead=3)
    moved = as_student.call(
        "post", f"/api/v1/bookings/{made['id']}/reschedule", {"start": iso_z(new_start)}
    )
    assert moved.status_code == 200, moved.content
    body = moved.json()
    assert body["start"] == iso_z(new_start)
    assert body["end"] == iso_z(new_start + timedelta(minutes=60))
    assert (body["price_cents"], body["service"]["duration_minutes"]) == (4500, 60)


def test_a_retired_service_is_no_longer_offered_but_its_bookings_stay(
    as_student, as_instructor, instructor, service
):
    made = book(as_student, service, next_free_start(service))
    topic = f"availability:{instructor.pk}"
    seq = last_seq(topic)
    response = as_instructor.call("delete", path(service.pk))
    assert response.status_code == 204 and response.content == b""
    assert [t for t, _ in events_on(topic, after_seq=seq)] == ["availability.changed"]
    listed = as_student.call("get", f"/api/v1/instructors/{instructor.pk}").json()
    assert listed["services"] == []
    day = (timezone.now() + timedelta(days=2)).date()
    slots = as_student.call(
        "get",
        f"/api/v1/instructors/{instructor.pk}/slots"
        f"?service_id={service.pk}&start={day}&end={day}&tz=UTC",
    )
    assert_error(slots, 404, "not_found")
    start = iso_z(next_free_start(service))
    body = {"service_id": service.pk, "start": start, "location_type": "online"}
    refused = as_student.call("post", "/api/v1/bookings", body)
    assert_error(refused, 404, "not_found")
    kept = as_student.call("get", f"/api/v1/bookings/{made['id']}").json()
    assert kept["status"] == made["status"] and kept["price_cents"] == 4500
    # It goes on as made: it can still be moved.
    later = iso_z(next_free_start(service, days_ahead=3))
    moved = as_student.call("post", f"/api/v1/bookings/{made['id']}/reschedule", {"start": later})
    assert moved.status_code == 200 and moved.json()["start"] == later
    # Retired is gone for its owner too: neither changed nor retired again.
    changed = as_instructor.call("patch", path(service.pk), {"price_cents": 1})
    assert_error(changed, 404, "not_found")
    assert_error(as_instructor.call("delete", path(service.pk)), 404, "not_found")


def test_another_instructors_service_answers_like_a_missing_one(
    api, token_for, make_user, as_student, service
):
    other = api(token_for(make_user("instructor")))
    for method, body in (("patch", {"price_cents": 1}), ("delete", None)):
        theirs = other.call(method, path(service.pk), body)
        missing = other.call(method, path(999_999), body)
        assert_error(theirs, 404, "not_found")
        assert theirs.json() == missing.json()
        assert_error(as_student.call(method, path(service.pk), body), 403, "forbidden")
    unchanged = Service.objects.get(pk=service.pk)
    assert unchanged.is_active and unchanged.price_cents == 4500
