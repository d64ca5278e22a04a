"""Bookings against payment providers that decline or ask the student to act.

The two backends below stand in for an external provider behind the payments
interface; everything of ours runs for real.
"""

import pytest

from bookings.models import Booking
from bookings.selectors import is_free_slot
from conventions.times import iso_z
from payments.backends import DevBackend, PaymentError, ProviderPayment
from payments.models import PaymentState
from tests.helpers import assert_error, events_on, next_free_start

pytestmark = pytest.mark.django_db


class DecliningBackend(DevBackend):
    name = "declining"

    def authorise(self, **kwargs) -> ProviderPayment:
        raise PaymentError("card declined", declined=True)


class ActionBackend(DevBackend):
    name = "action"

    def authorise(self, **kwargs) -> ProviderPayment:
        return ProviderPayment(
            PaymentState.REQUIRES_PAYMENT, intent_id="pi_1", client_secret="pi_1_secret"
        )


def book(api, token, service):
    body = {"service_id": service.pk, "start": iso_z(next_free_start(service)),
            "location_type": "online"}  # fmt: skip
    return api(token).call("post", "/api/v1/bookings", body)


def test_a_declined_payment_cancels_the_hold_and_frees_the_slot(provider, api, token_for,
                                                                student, service):  # fmt: skip
    provider(DecliningBackend)
    response = book(api, token_for(student), service)
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["payment"]["status"]) == ("cancelled", "failed")
    assert body["cancel_reason"] == "payment_failed"
    booking = Booking.objects.get()
    assert is_free_slot(service=service, start=booking.start)
    types = [t for t, _ in events_on(f"user:{student.pk}")]
    assert types == ["booking.created", "payment.failed", "booking.cancelled"]


def test_a_payment_needing_action_waits_and_only_the_student_sees_the_secret(
    provider, api, token_for, student, service
):
    provider(ActionBackend)
    response = book(api, token_for(student), service)
    body = response.json()
    assert body["status"] == "pending_payment"
    assert body["payment"]["status"] == "requires_payment"
    assert body["payment"]["client_secret"] == "pi_1_secret"
    booking = Booking.objects.get()
    assert not is_free_slot(service=service, start=booking.start)
    instructor_view = api(token_for(service.instructor.user)).call(
        "get", f"/api/v1/bookings/{booking.pk}"
    )
    assert instructor_view.json()["payment"]["status"] == "requires_payment"
    assert instructor_view.json()["payment"]["client_secret"] is None
    cancel = api(token_for(student)).call(
        "post", f"/api/v1/bookings/{booking.pk}/cancel", {"reason": "changed my mind"}
    )
    assert cancel.json()["status"] == "cancelled"
    assert_error(
        api(token_for(student)).call("post", f"/api/v1/bookings/{booking.pk}/no-show"),
        403,
        "forbidden",
    )
