"""Payments through the Stripe backend against localstripe: a real fake Stripe server over
HTTP, driven through the bookings REST API with the real stripe-python client."""

import pytest

from bookings import services as booking_services
from bookings.models import Booking
from conventions.times import iso_z
from payments.models import PaymentState
from tests.helpers import next_free_start
from tests.stripe_fake import lesson_ended, lesson_service

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def service(instructor):
    return lesson_service(instructor)


def book(as_student, service, *, days_ahead: int = 1, **extra):
    start = next_free_start(service, days_ahead=days_ahead)
    body = {"service_id": service.pk, "start": iso_z(start), "location_type": "online", **extra}
    response = as_student.call("post", "/api/v1/bookings", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_booked_with_a_card_is_authorised_then_captured_when_the_lesson_completes(
    stripe_backend, as_student, service
):
    body = book(as_student, service, payment_method=stripe_backend.card())
    assert (body["status"], body["payment"]["status"]) == ("confirmed", "authorized")
    booking = Booking.objects.select_related("payment").get(pk=body["id"])
    intent = stripe_backend.intent(booking.payment.intent_id)
    assert (intent.status, intent.amount, intent.currency) == ("requires_capture", 4500, "eur")
    assert intent.capture_method == "manual"
    assert intent.metadata["reference"] == f"booking-{booking.pk}"

    lesson_ended(booking)
    assert booking_services.booking_complete(booking_id=booking.pk)
    booking.payment.refresh_from_db()
    assert (booking.payment.status, booking.payment.captured_cents) == (PaymentState.CAPTURED, 4500)
    assert stripe_backend.intent(booking.payment.intent_id).status == "succeeded"
