"""Concurrency against the real PostgreSQL: racers on one slot, overlapping moves."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from bookings.models import Booking, BookingStatus
from conventions.times import iso_z
from tests.helpers import ApiClient, next_free_start, place_booking, race

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 50


def test_fifty_students_racing_for_one_slot_make_one_booking(make_user, token_for, service):
    start = next_free_start(service)
    tokens = [token_for(make_user("student")) for _ in range(RACERS)]
    body = {"service_id": service.pk, "start": iso_z(start), "location_type": "online"}

    def attempt(token):
        return lambda: ApiClient(token).call("post", "/api/v1/bookings", body).status_code

    statuses = race([attempt(t) for t in tokens])
    assert sorted(statuses) == [201] + [409] * (RACERS - 1)
    assert Booking.objects.filter(start=start).count() == 1


def test_one_idempotency_key_raced_makes_one_booking(make_user, token_for, service):
    token = token_for(make_user("student"))
    body = {"service_id": service.pk, "start": iso_z(next_free_start(service)),
            "location_type": "online"}  # fmt: skip
    headers = {"Idempotency-Key": "retry-1"}

    def attempt():
        response = ApiClient(token).call("post", "/api/v1/bookings", body, headers=headers)
        return response.status_code, response.json()["id"]

    results = race([attempt] * 8)
    assert sorted(s for s, _ in results) == [200] * 7 + [201]
    assert len({booking_id for _, booking_id in results}) == 1
    assert Booking.objects.count() == 1


def test_two_overlapping_reschedules_one_wins(make_user, token_for, service):
    first_start = next_free_start(service)
    target = iso_z(first_start + timedelta(hours=3))
    movers = []
    for offset in (0, 1):
        student = make_user("student")
        token = token_for(student)
        body = {"service_id": service.pk, "start": iso_z(first_start + timedelta(hours=offset)),
                "location_type": "online"}  # fmt: skip
        booking_id = ApiClient(token).call("post", "/api/v1/bookings", body).json()["id"]
        movers.append((token, booking_id))

    def move(token, booking_id):
        path = f"/api/v1/bookings/{booking_id}/reschedule"
        return lambda: ApiClient(token).call("post", path, {"start": target}).status_code

    statuses = race([move(*m) for m in movers])
    assert sorted(statuses) == [200, 409]
    holding = Booking.objects.filter(status__in=["confirmed", "pending_payment"])
    assert sorted(iso_z(b.start) for b in holding).count(target) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the constraint is PostgreSQL's")
def test_the_database_refuses_overlapping_holds_even_past_the_services(make_user, service):
    student = make_user("student")
    start = next_free_start(service)
    place_booking(service, student, start)
    with pytest.raises(IntegrityError), transaction.atomic():
        place_booking(service, make_user("student"), start + timedelta(minutes=30))
    # A released booking does not hold time, so the same time can be booked again.
    place_booking(service, student, start, status=BookingStatus.CANCELLED)
    Booking.objects.filter(status="confirmed").update(status=BookingStatus.CANCELLED)
    place_booking(service, student, start + timedelta(minutes=30))
