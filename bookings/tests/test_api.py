"""The bookings REST paths of api.md: every answer and every bad input."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from conventions.times import iso_z
from tests.helpers import (
    ApiClient,
    assert_error,
    events_on,
    last_seq,
    next_free_start,
    place_booking,
)

pytestmark = pytest.mark.django_db

SERVICE = {
    "name": "Guitar",
    "duration_minutes": 45,
    "price_cents": 3000,
    "currency": "usd",
    "location_types": ["online", "student_location"],
}


def book(client, service, start, **extra):
    body = {"service_id": service.pk, "start": iso_z(start), "location_type": "online"}
    body.update(extra)
    headers = {"Idempotency-Key": extra.pop("key")} if "key" in extra else None
    body.pop("key", None)
    return client.call("post", "/api/v1/bookings", body, headers=headers)


# --- services, availability, instructors -------------------------------------------


def test_instructor_creates_a_service_with_defaults(as_instructor, instructor):
    response = as_instructor.call("post", "/api/v1/instructors/me/services", SERVICE)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "Guitar",
        "duration_minutes": 45,
        "price_cents": 3000,
        "currency": "USD",
        "location_types": ["online", "student_location"],
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "min_notice_minutes": 720,
        "booking_window_days": 60,
        "slot_interval_minutes": None,
    }


@pytest.mark.parametrize(
    "change, field",
    [
        ({"location_types": ["moon"]}, "location_types.0"),
        ({"location_types": []}, "location_types"),
        ({"booking_window_days": 366}, "booking_window_days"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"currency": "euro"}, "currency"),
        ({"price_cents": -1}, "price_cents"),
    ],
)
def test_service_input_is_checked(as_instructor, change, field):
    response = as_instructor.call("post", "/api/v1/instructors/me/services", SERVICE | change)
    assert field in assert_error(response, 422, "invalid")["details"]


def test_a_student_cannot_offer_services_or_set_hours(as_student):
    response = as_student.call("post", "/api/v1/instructors/me/services", SERVICE)
    assert_error(response, 403, "forbidden")
    body = {"timezone": "UTC", "rules": []}
    assert_error(
        as_student.call("put", "/api/v1/instructors/me/availability", body), 403, "forbidden"
    )


def test_availability_is_replaced_whole_and_announced(as_instructor, instructor):
    rules = [
        {"weekday": 0, "start": "09:00", "end": "12:00"},
        {"weekday": 0, "start": "13:00", "end": "17:30"},
    ]
    path = "/api/v1/instructors/me/availability"
    response = as_instructor.call("put", path, {"timezone": "Asia/Tokyo", "rules": rules})
    assert response.status_code == 200
    assert response.json() == {"timezone": "Asia/Tokyo", "rules": rules}
    response = as_instructor.call("put", path, {"timezone": "Asia/Tokyo", "rules": rules[:1]})
    assert response.json()["rules"] == rules[:1]
    assert as_instructor.call("get", path).json() == {"timezone": "Asia/Tokyo", "rules": rules[:1]}
    changes = events_on(f"availability:{instructor.pk}")
    assert [t for t, _ in changes] == ["availability.changed"] * 2
    assert changes[0][1]["reason"] == "rules" and changes[0][1]["instructor_id"] == instructor.pk


def rule(weekday=1, start="09:00", end="10:00"):
    return {"weekday": weekday, "start": start, "end": end}


@pytest.mark.parametrize(
    "timezone_name, rules, field",
    [
        ("Mars/Base", [], "timezone"),
        ("UTC", [rule(weekday=7)], "rules.0.weekday"),
        ("UTC", [rule(start="9am")], "rules.0.start"),
        ("UTC", [rule(start="24:00")], "rules.0.start"),
        ("UTC", [rule(start="11:00")], "rules"),
        ("UTC", [rule(end="11:00"), rule(start="10:00", end="12:00")], "rules"),
    ],
)
def test_bad_availability_is_refused_and_keeps_the_old_rules(
    as_instructor, service, timezone_name, rules, field
):
    path = "/api/v1/instructors/me/availability"
    before = as_instructor.call("get", path).json()
    response = as_instructor.call("put", path, {"timezone": timezone_name, "rules": rules})
    assert field in assert_error(response, 422, "invalid")["details"]
    assert as_instructor.call("get", path).json() == before


def test_overrides_set_and_delete(as_instructor, instructor):
    path = "/api/v1/instructors/me/availability/overrides/2027-02-01"
    body = {"intervals": [{"start": "18:00", "end": "20:00"}]}
    response = as_instructor.call("put", path, body)
    assert response.json() == {"date": "2027-02-01", "intervals": body["intervals"]}
    assert as_instructor.call("put", path, {"intervals": []}).json()["intervals"] == []
    assert as_instructor.call("delete", path).status_code == 204
    bad = as_instructor.call(
        "put", "/api/v1/instructors/me/availability/overrides/2027-02-30", body
    )
    assert_error(bad, 422, "invalid")
    reasons = [d["reason"] for _, d in events_on(f"availability:{instructor.pk}")]
    assert reasons == ["override"] * 3


def test_instructors_are_listed_with_services_and_paged(api, token_for, make_user, service):
    for _ in range(3):
        make_user("instructor")
    client = api(token_for(make_user("student")))
    first = client.call("get", "/api/v1/instructors?limit=2").json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.call("get", f"/api/v1/instructors?limit=2&cursor={first['next_cursor']}").json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    listed = first["items"] + rest["items"]
    assert len({i["id"] for i in listed}) == 4
    piano = next(i for i in listed if i["services"])
    assert piano["services"][0]["name"] == "Piano" and piano["timezone"] == "Europe/Berlin"
    one = client.call("get", f"/api/v1/instructors/{piano['id']}").json()
    assert one == piano
    assert_error(client.call("get", "/api/v1/instructors?cursor=nonsense"), 422, "invalid")
    assert_error(client.call("get", "/api/v1/instructors?limit=201"), 422, "invalid")
    student_id = make_user("student").pk
    assert_error(client.call("get", f"/api/v1/instructors/{student_id}"), 404, "not_found")
    assert_error(api().call("get", "/api/v1/instructors"), 401, "unauthorized")


# --- slots -------------------------------------------------------------------------


def slots_path(service, start: date, end: date, tz="UTC", instructor_id=None):
    who = instructor_id or service.instructor_id
    return (
        f"/api/v1/instructors/{who}/slots?service_id={service.pk}&start={start}&end={end}&tz={tz}"
    )


def test_slots_endpoint(as_student, service):
    day = date.today() + timedelta(days=2)
    response = as_student.call("get", slots_path(service, day, day, tz="Europe/Berlin"))
    assert response.status_code == 200
    slots = response.json()["slots"]
    assert [s["start"][11:] for s in slots][:2] in (["08:00:00.000Z", "09:00:00.000Z"],
                                                    ["07:00:00.000Z", "08:00:00.000Z"])  # fmt: skip
    assert len(slots) == 8 and slots == sorted(slots, key=lambda s: s["start"])


@pytest.mark.parametrize(
    "query, status, field",
    [
        ("&tz=Nowhere/City", 422, "tz"),
        ("&start=2027-01-10&end=2027-01-01", 422, "end"),
        ("&start=2027-01-01&end=2029-01-01", 422, "end"),
        ("&start=yesterday", 422, "start"),
    ],
)
def test_bad_slot_queries(as_student, service, query, status, field):
    path = slots_path(service, date(2027, 1, 1), date(2027, 1, 2)) + query
    assert field in assert_error(as_student.call("get", path), status, "invalid")["details"]


def test_slots_of_an_unknown_or_foreign_service_are_not_found(as_student, service, make_user):
    other = make_user("instructor")
    day = date.today()
    path = slots_path(service, day, day, instructor_id=other.pk)
    assert_error(as_student.call("get", path), 404, "not_found")
    path = slots_path(service, day, day).replace(f"service_id={service.pk}", "service_id=999999")
    assert_error(as_student.call("get", path), 404, "not_found")


# --- booking -----------------------------------------------------------------------


def test_a_student_books_a_free_slot_and_both_sides_are_told(as_student, student, service):
    start = next_free_start(service)
    seq = last_seq(f"availability:{service.instructor_id}")
    response = book(as_student, service, start, note="First lesson")
    assert response.status_code == 201, response.content
    body = response.json()
    instructor_id = service.instructor_id
    assert body == {
        "id": body["id"],
        "status": "confirmed",
        "student": {"id": student.pk, "name": student.name},
        "instructor": {"id": instructor_id, "name": service.instructor.user.name},
        "service": {"id": service.pk, "name": "Piano", "duration_minutes": 60},
        "start": iso_z(start),
        "end": iso_z(start + timedelta(hours=1)),
        "location_type": "online",
        "place": None,
        "note": "First lesson",
        "price_cents": 4500,
        "currency": "EUR",
        "payment": {
            "status": "authorized",
            "client_secret": None,
            "amount_cents": 4500,
            "credit_cents": 0,
            "captured_cents": 0,
            "refunded_cents": 0,
            "pay_by": None,
        },
        "cancelled_by": None,
        "cancel_reason": "",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    # Each participant's topic got the booking, exactly as REST shows it now.
    fresh = as_student.call("get", f"/api/v1/bookings/{body['id']}").json()
    for user_id in (student.pk, instructor_id):
        events = events_on(f"user:{user_id}")
        assert [t for t, _ in events] == [
            "booking.created",
            "booking.confirmed",
            "payment.authorized",
        ]
        assert events[1][1] == fresh
        assert events[2][1] == {"booking_id": body["id"], "payment": fresh["payment"]}
    assert events[0][1]["status"] == "pending_payment"
    (change,) = events_on(f"availability:{instructor_id}", after_seq=seq)
    assert change == (
        "availability.changed",
        {
            "instructor_id": instructor_id,
            "start": body["start"],
            "end": body["end"],
            "reason": "booked",
        },
    )
    # The slot is gone.
    day = start.date()
    slots = as_student.call("get", slots_path(service, day, day)).json()["slots"]
    assert iso_z(start) not in [s["start"] for s in slots]


def test_a_time_that_is_not_a_free_slot_is_a_conflict(as_student, service, make_user, token_for):
    start = next_free_start(service)
    assert book(as_student, service, start).status_code == 201
    other = make_user("student")
    seq = last_seq(f"user:{other.pk}")
    assert_error(book(make_client(token_for(other)), service, start), 409, "conflict")
    assert_error(book(as_student, service, start + timedelta(minutes=30)), 409, "conflict")
    assert_error(book(as_student, service, start - timedelta(days=90)), 409, "conflict")
    assert Booking.objects.count() == 1
    assert last_seq(f"user:{other.pk}") == seq  # a refused booking emits nothing


def make_client(token):
    return ApiClient(token)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"start": "2027-01-11T10:00:00"}, "start"),
        ({"start": "soon"}, "start"),
        ({"location_type": "student_location"}, "location_type"),
        ({"location_type": "space"}, "location_type"),
        ({"service_id": "x"}, "service_id"),
        ({"note": "x" * 2001}, "note"),
    ],
)
def test_bad_booking_input_is_refused_and_stores_nothing(as_student, service, body, field):
    start = iso_z(next_free_start(service))
    payload = {"service_id": service.pk, "start": start, "location_type": "online"} | body
    response = as_student.call("post", "/api/v1/bookings", payload)
    assert field in assert_error(response, 422, "invalid")["details"]
    assert Booking.objects.count() == 0


def test_only_students_book_and_unknown_services_are_not_found(as_instructor, as_student, service):
    start = next_free_start(service)
    assert_error(book(as_instructor, service, start), 403, "forbidden")
    response = as_student.call(
        "post",
        "/api/v1/bookings",
        {"service_id": 999999, "start": iso_z(start), "location_type": "online"},
    )
    assert_error(response, 404, "not_found")


def test_a_student_cannot_be_in_two_lessons_at_once(as_student, service, make_user):
    from datetime import time

    from bookings import services as booking_services
    from bookings.selectors import is_free_slot

    start = next_free_start(service)
    assert book(as_student, service, start).status_code == 201
    other = make_user("instructor", timezone="Europe/Berlin")
    drums = booking_services.service_create(
        instructor=other, name="Drums", duration_minutes=60, price_cents=1, currency="EUR",
        location_types=["online"], min_notice_minutes=0,
    )  # fmt: skip
    booking_services.availability_replace(
        instructor=other, timezone="Europe/Berlin", rules=[(d, time(9), time(17)) for d in range(7)]
    )
    assert is_free_slot(service=drums, start=start)  # free on the other calendar...
    refused = assert_error(book(as_student, drums, start), 409, "conflict")
    assert "already have a lesson" in refused["message"]  # ...but the student is busy


def test_idempotency_key_returns_the_first_booking(as_student, service):
    start = next_free_start(service)
    first = book(as_student, service, start, key="abc-1")
    again = book(as_student, service, start, key="abc-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Booking.objects.count() == 1
    other_time = next_free_start(service, days_ahead=3)
    assert_error(book(as_student, service, other_time, key="abc-1"), 409, "conflict")


# --- reading -----------------------------------------------------------------------


def test_bookings_are_listed_for_participants_only(as_student, as_instructor, service, api,
                                                   token_for, make_user):  # fmt: skip
    ids = []
    for days in (2, 3, 4):
        ids.append(
            book(as_student, service, next_free_start(service, days_ahead=days)).json()["id"]
        )
    as_student.call("post", f"/api/v1/bookings/{ids[1]}/cancel", {"reason": "ill"})
    page = as_student.call("get", "/api/v1/bookings?limit=2").json()
    assert [b["id"] for b in page["items"]] == ids[:2] and page["next_cursor"]
    rest = as_student.call("get", f"/api/v1/bookings?limit=2&cursor={page['next_cursor']}").json()
    assert [b["id"] for b in rest["items"]] == ids[2:] and rest["next_cursor"] is None
    mine = as_instructor.call("get", "/api/v1/bookings?status=cancelled").json()["items"]
    assert [b["id"] for b in mine] == [ids[1]]
    assert_error(as_student.call("get", "/api/v1/bookings?status=lost"), 422, "invalid")
    stranger = api(token_for(make_user("student")))
    assert stranger.call("get", "/api/v1/bookings").json() == {"items": [], "next_cursor": None}
    for path in (f"/api/v1/bookings/{ids[0]}", "/api/v1/bookings/999999"):
        assert_error(stranger.call("get", path), 404, "not_found")
    assert_error(stranger.call("post", f"/api/v1/bookings/{ids[0]}/cancel", {"reason": ""}),
                 404, "not_found")  # fmt: skip


# --- transitions -------------------------------------------------------------------


def test_either_side_cancels_and_the_time_comes_back(as_student, as_instructor, instructor,
                                                     student, service):  # fmt: skip
    start = next_free_start(service)
    booking_id = book(as_student, service, start).json()["id"]
    seq = last_seq(f"availability:{instructor.pk}")
    response = as_instructor.call(
        "post", f"/api/v1/bookings/{booking_id}/cancel", {"reason": "sick"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["cancelled_by"], body["cancel_reason"]) == (
        "cancelled", instructor.pk, "sick",
    )  # fmt: skip
    assert body["payment"]["status"] == "released"
    assert [t for t, _ in events_on(f"user:{student.pk}")][-2:] == [
        "booking.cancelled",
        "payment.released",
    ]
    assert events_on(f"availability:{instructor.pk}", seq)[0][1]["reason"] == "cancelled"
    day = start.date()
    slots = as_student.call("get", slots_path(service, day, day)).json()["slots"]
    assert iso_z(start) in [s["start"] for s in slots]
    again = as_student.call("post", f"/api/v1/bookings/{booking_id}/cancel", {"reason": "x"})
    assert_error(again, 409, "conflict")
    assert_error(
        as_student.call("post", f"/api/v1/bookings/{booking_id}/cancel", {}), 422, "invalid"
    )


def test_reschedule_moves_the_hold(as_student, instructor, student, service):
    start = next_free_start(service)
    booking_id = book(as_student, service, start).json()["id"]
    taken = book(as_student, service, start + timedelta(hours=2)).json()["id"]
    seq = last_seq(f"availability:{instructor.pk}")
    path = f"/api/v1/bookings/{booking_id}/reschedule"
    assert_error(as_student.call("post", path, {"start": iso_z(start + timedelta(hours=2))}), 409,
                 "conflict")  # fmt: skip
    new_start = start + timedelta(hours=1)
    response = as_student.call("post", path, {"start": iso_z(new_start)})
    assert response.status_code == 200, response.content
    assert response.json()["start"] == iso_z(new_start)
    assert events_on(f"user:{student.pk}")[-1][0] == "booking.rescheduled"
    reasons = [d["reason"] for _, d in events_on(f"availability:{instructor.pk}", seq)]
    assert reasons == ["rescheduled", "booked"]
    day = start.date()
    free = [
        s["start"] for s in as_student.call("get", slots_path(service, day, day)).json()["slots"]
    ]
    assert iso_z(start) in free and iso_z(new_start) not in free
    as_student.call("post", f"/api/v1/bookings/{taken}/cancel", {"reason": ""})
    cancelled = as_student.call(
        "post", f"/api/v1/bookings/{taken}/reschedule", {"start": iso_z(start)}
    )
    assert_error(cancelled, 409, "conflict")
    assert_error(as_student.call("post", path, {"start": "2027-01-01T10:00:00"}), 422, "invalid")


def test_final_and_started_bookings_cannot_move(as_student, as_instructor, student, service):
    past = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    completed = place_booking(service, student, past, status=BookingStatus.COMPLETED)
    started = place_booking(service, student, timezone.now() - timedelta(minutes=10))
    future = iso_z(next_free_start(service))
    for booking in (completed, started):
        assert_error(as_student.call("post", f"/api/v1/bookings/{booking.pk}/cancel",
                                     {"reason": ""}), 409, "conflict")  # fmt: skip
        assert_error(as_student.call("post", f"/api/v1/bookings/{booking.pk}/reschedule",
                                     {"start": future}), 409, "conflict")  # fmt: skip


def test_no_show_is_the_instructors_after_the_start(as_student, as_instructor, student, service):
    upcoming = book(as_student, service, next_free_start(service)).json()["id"]
    assert_error(
        as_instructor.call("post", f"/api/v1/bookings/{upcoming}/no-show"), 409, "conflict"
    )
    started = place_booking(service, student, timezone.now() - timedelta(minutes=10),
                            payment_status="authorized", payment_reference="dev_x")  # fmt: skip
    assert_error(
        as_student.call("post", f"/api/v1/bookings/{started.pk}/no-show"), 403, "forbidden"
    )
    response = as_instructor.call("post", f"/api/v1/bookings/{started.pk}/no-show")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["payment"]["status"]) == (
        "no_show",
        "captured",
    )
    assert [t for t, _ in events_on(f"user:{student.pk}")][-2:] == [
        "booking.no_show",
        "payment.captured",
    ]
    old = place_booking(service, student, timezone.now() - timedelta(days=5),
                        status=BookingStatus.COMPLETED)  # fmt: skip
    assert_error(as_instructor.call("post", f"/api/v1/bookings/{old.pk}/no-show"), 409, "conflict")


def test_an_instructor_reads_and_edits_the_own_profile(as_instructor, as_student, instructor):
    response = as_instructor.call("patch", "/api/v1/instructors/me", {"bio": "  Jazz piano. "})
    assert response.status_code == 200
    assert response.json()["bio"] == "Jazz piano."
    assert as_instructor.call("get", "/api/v1/instructors/me").json()["id"] == instructor.pk
    seen = as_student.call("get", f"/api/v1/instructors/{instructor.pk}").json()
    assert seen["bio"] == "Jazz piano."
    assert_error(as_student.call("get", "/api/v1/instructors/me"), 403, "forbidden")
    too_long = as_instructor.call("patch", "/api/v1/instructors/me", {"bio": "x" * 5001})
    assert_error(too_long, 422, "invalid")


@pytest.mark.parametrize(
    "method, path, body, field",
    [
        ("get", "/api/v1/bookings/99999999999999999999", None, "booking_id"),
        ("get", "/api/v1/bookings/0", None, "booking_id"),
        ("get", "/api/v1/instructors/99999999999999999999", None, "instructor_id"),
        ("get", "/api/v1/instructors/1/slots?service_id=1&start=9999-12-30&end=9999-12-31", None,
         "start"),
        ("put", "/api/v1/instructors/me/availability/overrides/0001-01-01", {"intervals": []},
         "day"),
        ("post", "/api/v1/bookings", {"service_id": 1, "start": "9999-12-31T23:59:00Z",
                                      "location_type": "online"}, "start"),
        ("post", "/api/v1/bookings", {"service_id": 1, "start": "0001-01-01T00:00:00+14:00",
                                      "location_type": "online"}, "start"),
        ("post", "/api/v1/bookings", {"service_id": 2**64, "start": "2027-01-01T00:00:00Z",
                                      "location_type": "online"}, "service_id"),
    ],
)  # fmt: skip
def test_absurd_ids_and_years_are_422_not_500(as_student, method, path, body, field):
    response = as_student.call(method, path, body)
    assert field in assert_error(response, 422, "invalid")["details"]
