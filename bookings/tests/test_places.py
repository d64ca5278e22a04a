"""Where a lesson happens, over REST: each location type's place, fixed when booked and
shown only to the booking's two people."""

import json

import pytest

from conventions.times import iso_z
from hub.topics import user_topic
from tests.helpers import assert_error, events_on, lesson_service, next_free_start

pytestmark = pytest.mark.django_db

STUDIO = "Studio 4, Hauptstr. 12, Berlin"
HOME = "Flat 2, Rosenweg 7, Potsdam"
CAFE = "Café Einstein, by the door"


@pytest.fixture
def anywhere(instructor):
    """A one-hour lesson offered at every location type, every day 09:00-17:00 Berlin."""
    return lesson_service(
        instructor,
        name="Violin",
        price_cents=4000,
        location_types=["online", "instructor_location", "neutral_location", "student_location"],
    )


def book(client, service, location_type, **extra):
    body = {
        "service_id": service.pk,
        "start": iso_z(next_free_start(service)),
        "location_type": location_type,
    }
    return client.call("post", "/api/v1/bookings", body | extra)


def set_address(client, address):
    return client.call("patch", "/api/v1/instructors/me", {"address": address})


def test_the_instructor_sets_an_address_only_they_see_on_the_profile(
    as_instructor, as_student, instructor, anywhere
):
    answer = set_address(as_instructor, f"  {STUDIO} ")
    assert answer.status_code == 200, answer.content
    assert answer.json()["address"] == STUDIO
    assert as_instructor.call("get", "/api/v1/instructors/me").json()["address"] == STUDIO
    # The bio is left as it was; a bio change leaves the address.
    as_instructor.call("patch", "/api/v1/instructors/me", {"bio": "Strings."})
    own = as_instructor.call("get", "/api/v1/instructors/me").json()
    assert (own["bio"], own["address"]) == ("Strings.", STUDIO)
    public = as_student.call("get", f"/api/v1/instructors/{instructor.pk}")
    assert "address" not in public.json()
    assert STUDIO not in public.content.decode()
    listed = as_student.call("get", "/api/v1/instructors").content.decode()
    assert STUDIO not in listed and '"address"' not in listed


def test_an_instructor_location_lesson_keeps_the_address_it_was_booked_with(
    as_instructor, as_student, anywhere
):
    set_address(as_instructor, STUDIO)
    made = book(as_student, anywhere, "instructor_location")
    assert made.status_code == 201, made.content
    place = {"kind": "instructor_location", "text": STUDIO}
    assert made.json()["place"] == place
    set_address(as_instructor, "Somewhere new")
    for client in (as_student, as_instructor):
        seen = client.call("get", f"/api/v1/bookings/{made.json()['id']}").json()
        assert seen["place"] == place
    assert as_instructor.call("get", "/api/v1/bookings").json()["items"][0]["place"] == place


def test_a_neutral_lesson_carries_the_meeting_point(as_instructor, as_student, anywhere):
    made = book(as_student, anywhere, "neutral_location", meeting_point=f" {CAFE}  ")
    assert made.status_code == 201, made.content
    assert made.json()["place"] == {"kind": "neutral_location", "text": CAFE}
    seen = as_instructor.call("get", f"/api/v1/bookings/{made.json()['id']}").json()
    assert seen["place"]["text"] == CAFE


def test_a_lesson_at_the_student_carries_their_address(as_instructor, as_student, anywhere):
    made = book(as_student, anywhere, "student_location", address=HOME)
    assert made.status_code == 201, made.content
    assert made.json()["place"] == {"kind": "student_location", "text": HOME}
    seen = as_instructor.call("get", f"/api/v1/bookings/{made.json()['id']}").json()
    assert seen["place"] == {"kind": "student_location", "text": HOME}


def test_online_has_no_place_and_a_place_not_given_is_empty(as_student, anywhere):
    online = book(as_student, anywhere, "online")
    assert online.status_code == 201, online.content
    assert online.json()["place"] is None
    neutral = book(as_student, anywhere, "neutral_location")
    assert neutral.status_code == 201, neutral.content
    assert neutral.json()["place"] == {"kind": "neutral_location", "text": ""}


def test_only_the_two_people_of_the_booking_see_the_place(
    as_instructor, as_student, student, instructor, anywhere, make_user, token_for, api
):
    set_address(as_instructor, STUDIO)
    other_student = make_user("student")
    other_instructor = make_user("instructor")
    made = book(as_student, anywhere, "student_location", address=HOME)
    booking_id = made.json()["id"]
    for outsider in (other_student, other_instructor):
        client = api(token_for(outsider))
        assert_error(client.call("get", f"/api/v1/bookings/{booking_id}"), 404, "not_found")
        assert client.call("get", "/api/v1/bookings").json()["items"] == []
        assert events_on(user_topic(outsider.pk)) == []
        for path in (
            f"/api/v1/instructors/{instructor.pk}",
            "/api/v1/instructors",
            "/api/v1/instructors?location_type=student_location",
        ):
            text = client.call("get", path).content.decode()
            assert HOME not in text and STUDIO not in text
    start = next_free_start(anywhere)
    slots = as_student.call(
        "get",
        f"/api/v1/instructors/{instructor.pk}/slots?service_id={anywhere.pk}"
        f"&start={start.date()}&end={start.date()}",
    )
    assert slots.status_code == 200 and HOME not in slots.content.decode()
    # Live events: the booking's two people only; availability events carry no place.
    everything = json.dumps(events_on(f"availability:{instructor.pk}"))
    assert HOME not in everything and STUDIO not in everything
    for person in (student, instructor):
        created = [d for t, d in events_on(user_topic(person.pk)) if t == "booking.created"]
        assert created[-1]["place"] == {"kind": "student_location", "text": HOME}


@pytest.mark.parametrize("bad", ["Main St\n5", "Main St\r5", "a\x00b", "\u202eevil", "x" * 301])
def test_places_refuse_control_characters_and_long_texts(as_instructor, as_student, anywhere, bad):
    refused = set_address(as_instructor, bad)
    assert "address" in assert_error(refused, 422, "invalid")["details"]
    refused = book(as_student, anywhere, "neutral_location", meeting_point=bad)
    assert "meeting_point" in assert_error(refused, 422, "invalid")["details"]
    refused = book(as_student, anywhere, "student_location", address=bad)
    assert "address" in assert_error(refused, 422, "invalid")["details"]
    assert as_student.call("get", "/api/v1/bookings").json()["items"] == []


def test_a_place_for_another_location_type_or_null_is_refused(as_instructor, as_student, anywhere):
    refused = book(as_student, anywhere, "online", meeting_point=CAFE)
    assert "meeting_point" in assert_error(refused, 422, "invalid")["details"]
    refused = book(as_student, anywhere, "instructor_location", address=HOME)
    assert "address" in assert_error(refused, 422, "invalid")["details"]
    refused = book(as_student, anywhere, "student_location", address=None)
    assert_error(refused, 422, "invalid")
    refused = as_instructor.call("patch", "/api/v1/instructors/me", {"address": None})
    assert_error(refused, 422, "invalid")
    assert as_student.call("get", "/api/v1/bookings").json()["items"] == []
    assert_error(set_address(as_student, HOME), 403, "forbidden")
