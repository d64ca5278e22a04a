"""A booking.* event carries the booking exactly as REST shows it once the change is done.

Each transition below is made, then every event it put on either participant's
topic is compared with a fresh GET of the booking by that participant.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from bookings import services
from bookings.models import Booking, BookingStatus
from conventions.times import iso_z
from payments.backends import DevBackend, PaymentError
from tests.helpers import PASSWORD, ApiClient, events_on, last_seq, next_free_start, place_booking

pytestmark = pytest.mark.django_db

AUTHORIZED = {"payment_status": "authorized", "payment_reference": "dev_ref"}


# --- bookings to change -----------------------------------------------------------


def booked_over_rest(service, student, token_for) -> Booking:
    """Confirmed, its payment authorised by the dev backend."""
    body = {"service_id": service.pk, "location_type": "online",
            "start": iso_z(next_free_start(service))}  # fmt: skip
    response = ApiClient(token_for(student)).call("post", "/api/v1/bookings", body)
    assert response.json()["payment"]["status"] == "authorized"
    return Booking.objects.get(pk=response.json()["id"])


def started(service, student, token_for) -> Booking:
    start = timezone.now() - timedelta(minutes=10)
    return place_booking(service, student, start, **AUTHORIZED)


def ended(service, student, token_for) -> Booking:
    start = timezone.now() - timedelta(hours=2)
    return place_booking(service, student, start, **AUTHORIZED)


def unpaid_too_long(service, student, token_for) -> Booking:
    start = timezone.now() + timedelta(days=2)
    booking = place_booking(
        service, student, start, status=BookingStatus.PENDING_PAYMENT, **AUTHORIZED
    )
    Booking.objects.filter(pk=booking.pk).update(created_at=timezone.now() - timedelta(hours=1))
    return booking


# --- the changes ------------------------------------------------------------------


def call(token_for, user, path, body=None) -> None:
    response = ApiClient(token_for(user)).call("post", f"/api/v1/bookings/{path}", body)
    assert response.status_code == 200, response.content


def cancel_by_student(booking, token_for):
    call(token_for, booking.student, f"{booking.pk}/cancel", {"reason": "ill"})


def cancel_by_instructor(booking, token_for):
    call(token_for, booking.instructor.user, f"{booking.pk}/cancel", {"reason": "away"})


def cancel_by_staff(booking, token_for):
    staff = User.objects.create_superuser(email="root@example.com", password=PASSWORD, name="R")
    services.booking_cancel_by_staff(staff=staff, booking_id=booking.pk, reason="support")


def reschedule(booking, token_for):
    start = iso_z(booking.start + timedelta(hours=1))
    call(token_for, booking.student, f"{booking.pk}/reschedule", {"start": start})


def no_show(booking, token_for):
    call(token_for, booking.instructor.user, f"{booking.pk}/no-show")


def complete(booking, token_for):
    assert services.booking_complete(booking_id=booking.pk)


def expire(booking, token_for):
    assert services.booking_expire(booking_id=booking.pk)


RELEASED = ["payment.released"]
CAPTURED = ["payment.captured"]


@pytest.mark.parametrize(
    "make, change, types",
    [
        pytest.param(booked_over_rest, cancel_by_student, ["booking.cancelled", *RELEASED],
                     id="cancel by the student"),
        pytest.param(booked_over_rest, cancel_by_instructor, ["booking.cancelled", *RELEASED],
                     id="cancel by the instructor"),
        pytest.param(booked_over_rest, cancel_by_staff, ["booking.cancelled", *RELEASED],
                     id="cancel by staff"),
        pytest.param(unpaid_too_long, expire, ["booking.expired", *RELEASED], id="expire"),
        pytest.param(started, no_show, ["booking.no_show", *CAPTURED], id="no-show"),
        pytest.param(ended, complete, ["booking.completed", *CAPTURED], id="complete"),
        pytest.param(booked_over_rest, reschedule, ["booking.rescheduled"], id="reschedule"),
    ],
)  # fmt: skip
def test_each_event_of_a_change_is_the_booking_as_rest_returns_it_after(
    make, change, types, token_for, student, service
):
    booking = make(service, student, token_for)
    people = (booking.student, booking.instructor.user)
    seqs = {user.pk: last_seq(f"user:{user.pk}") for user in people}

    change(booking, token_for)

    for user in people:
        fresh = ApiClient(token_for(user)).call("get", f"/api/v1/bookings/{booking.pk}").json()
        events = events_on(f"user:{user.pk}", seqs[user.pk])
        assert [t for t, _ in events] == types
        for type, data in events:
            if type.startswith("booking."):
                assert data == fresh, f"{type} to user {user.pk}"
            else:
                assert data == {"booking_id": booking.pk, "payment": fresh["payment"]}, type


def test_a_cancel_the_backend_cannot_release_still_tells_the_truth(
    monkeypatch, token_for, student, service
):
    """The cancel commits with the payment still authorised, and the events say so."""

    def unreachable(self, **kwargs):
        raise PaymentError("provider unreachable")

    monkeypatch.setattr(DevBackend, "release", unreachable)
    booking = booked_over_rest(service, student, token_for)
    seq = last_seq(f"user:{student.pk}")
    cancel_by_student(booking, token_for)
    fresh = ApiClient(token_for(student)).call("get", f"/api/v1/bookings/{booking.pk}").json()
    assert (fresh["status"], fresh["payment"]["status"]) == ("cancelled", "authorized")
    assert events_on(f"user:{student.pk}", seq) == [("booking.cancelled", fresh)]
    with pytest.raises(PaymentError):  # the sweep and the settle task retry later
        services.booking_payment_settle(booking_id=booking.pk)
    booking.refresh_from_db()
    assert booking.payment.status == "authorized"
