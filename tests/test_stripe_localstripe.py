"""Payments through the Stripe backend against localstripe: a real fake Stripe server over
HTTP, driven through the bookings REST API with the real stripe-python client."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from bookings import services as booking_services
from bookings import tasks as booking_tasks
from bookings.models import Booking, BookingStatus
from bookings.selectors import is_free_slot
from conventions.models import OutgoingEmail
from conventions.times import iso_z
from payments import services as payment_services
from payments import tasks as payment_tasks
from payments.backends import payment_backend
from payments.models import CreditEntry, CreditReason, Payment, PaymentState
from tests.helpers import events_on, lesson_service, next_free_start, on_worker
from tests.stripe_fake import (
    CARD_DECLINED_ON_CHARGE,
    GatedProxy,
    lesson_ended,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def service(instructor):
    return lesson_service(instructor)


def book(client, service, *, days_ahead: int = 1, **extra):
    start = next_free_start(service, days_ahead=days_ahead)
    body = {"service_id": service.pk, "start": iso_z(start), "location_type": "online", **extra}
    response = client.call("post", "/api/v1/bookings", body)
    assert response.status_code == 201, response.content
    return response.json()


def payment_of(body) -> Payment:
    return Booking.objects.select_related("payment").get(pk=body["id"]).payment


def cancel(client, body):
    path = f"/api/v1/bookings/{body['id']}/cancel"
    response = client.call("post", path, {"reason": "cannot come"})
    assert response.status_code == 200, response.content
    return response.json()


def charge_of(localstripe, intent):
    charge = intent.latest_charge  # localstripe expands it; Stripe sends its id
    charge_id = charge if isinstance(charge, str) else charge.id
    return localstripe.client.v1.charges.retrieve(charge_id)


def test_booked_with_a_card_is_authorised_then_captured_when_the_lesson_completes(
    stripe_backend, as_student, service
):
    body = book(as_student, service, payment_method=stripe_backend.card())
    assert (body["status"], body["payment"]["status"]) == ("confirmed", "authorized")
    payment = payment_of(body)
    intent = stripe_backend.intent(payment.intent_id)
    assert (intent.status, intent.amount, intent.currency) == ("requires_capture", 4500, "eur")
    assert intent.capture_method == "manual"
    assert intent.metadata["reference"] == f"booking-{body['id']}"
    assert intent.metadata["payment_id"] == str(payment.pk)

    lesson_ended(Booking.objects.get(pk=body["id"]))
    assert booking_services.booking_complete(booking_id=body["id"])
    payment.refresh_from_db()
    assert (payment.status, payment.captured_cents) == (PaymentState.CAPTURED, 4500)
    intent = stripe_backend.intent(payment.intent_id)
    assert intent.status == "succeeded"
    assert charge_of(stripe_backend, intent).amount == 4500


def test_credit_is_spent_first_and_the_card_is_asked_for_the_rest(
    stripe_backend, as_student, student, service
):
    payment_services.credit_grant(user_id=student.pk, currency="eur", amount_cents=1000,
                                  reason=CreditReason.STAFF_GRANT)  # fmt: skip
    body = book(as_student, service, payment_method=stripe_backend.card())
    payment = payment_of(body)
    assert payment.credit_cents == 1000
    assert stripe_backend.intent(payment.intent_id).amount == 3500


def test_without_a_card_the_student_pays_in_the_browser_and_the_sync_confirms(
    stripe_backend, as_student, as_instructor, service
):
    body = book(as_student, service)
    assert (body["status"], body["payment"]["status"]) == ("pending_payment", "requires_payment")
    payment = payment_of(body)
    assert body["payment"]["client_secret"] == payment.client_secret
    assert payment.client_secret.startswith(payment.intent_id + "_secret_")
    seen = as_instructor.call("get", f"/api/v1/bookings/{body['id']}").json()
    assert seen["payment"]["client_secret"] is None
    assert stripe_backend.intent(payment.intent_id).status == "requires_payment_method"

    # Stripe.js confirms with the client secret; a webhook or the sweep then re-reads it.
    assert stripe_backend.confirm_in_browser(payment.intent_id).status == "requires_capture"
    payment = payment_services.payment_sync(payment_id=payment.pk)
    assert payment.status == PaymentState.AUTHORIZED
    assert Booking.objects.get(pk=body["id"]).status == BookingStatus.CONFIRMED


def test_a_student_cancelling_a_day_ahead_releases_the_hold_at_stripe(
    stripe_backend, as_student, service
):
    body = book(as_student, service, days_ahead=2, payment_method=stripe_backend.card())
    cancelled = cancel(as_student, body)
    assert (cancelled["status"], cancelled["payment"]["status"]) == ("cancelled", "released")
    assert stripe_backend.intent(payment_of(body).intent_id).status == "canceled"


def test_a_student_cancelling_late_pays_half(stripe_backend, as_student, service):
    body = book(as_student, service, days_ahead=0, payment_method=stripe_backend.card())
    cancelled = cancel(as_student, body)
    assert cancelled["payment"]["status"] == "captured"
    payment = payment_of(body)
    assert payment.captured_cents == 2250
    intent = stripe_backend.intent(payment.intent_id)
    assert intent.status == "succeeded"
    charge = charge_of(stripe_backend, intent)
    # localstripe books the uncaptured rest of a partial capture as a refund of the charge.
    assert (charge.amount, charge.amount_refunded, charge.captured) == (4500, 2250, True)


def test_an_instructor_cancelling_late_releases_in_full_and_the_student_gets_credit(
    stripe_backend, as_student, as_instructor, student, service
):
    body = book(as_student, service, days_ahead=0, payment_method=stripe_backend.card())
    cancelled = cancel(as_instructor, body)
    assert cancelled["payment"]["status"] == "released"
    assert stripe_backend.intent(payment_of(body).intent_id).status == "canceled"
    entry = CreditEntry.objects.get(user=student)
    assert (entry.reason, entry.amount_cents) == (CreditReason.INSTRUCTOR_CANCELLED, 1000)


def test_a_card_declined_at_charge_cancels_the_booking_and_frees_the_slot(
    stripe_backend, as_student, student, service
):
    body = book(as_student, service, payment_method=stripe_backend.card(CARD_DECLINED_ON_CHARGE))
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "payment_failed")
    assert body["payment"]["status"] == "failed"
    assert "declined" in payment_of(body).failure
    booking = Booking.objects.get(pk=body["id"])
    assert is_free_slot(service=service, start=booking.start)
    assert "payment.failed" in [t for t, _ in events_on(f"user:{student.pk}")]


def make_due(payment: Payment) -> None:
    Payment.objects.filter(pk=payment.pk).update(
        authorise_after=timezone.now() - timedelta(minutes=1)
    )


def test_a_lesson_far_ahead_saves_the_card_then_authorises_off_session_on_the_worker(
    worker, stripe_backend, as_student, student, service
):
    card = stripe_backend.card()
    body = book(as_student, service, days_ahead=8, payment_method=card)
    assert (body["status"], body["payment"]["status"]) == ("confirmed", "card_saved")
    payment = payment_of(body)
    assert payment.customer_id and payment.setup_intent_id and payment.payment_method_id == card
    assert not payment.intent_id
    v1 = stripe_backend.client.v1
    assert v1.setup_intents.retrieve(payment.setup_intent_id).status == "succeeded"
    assert v1.payment_methods.retrieve(card).customer == payment.customer_id
    assert v1.customers.retrieve(payment.customer_id).email == student.email

    assert on_worker(payment_tasks.payments_authorise_due) == 0  # not due yet
    make_due(payment)
    assert on_worker(payment_tasks.payments_authorise_due) == 1
    wait_until(lambda: Payment.objects.get(pk=payment.pk).status == PaymentState.AUTHORIZED)
    payment.refresh_from_db()
    intent = stripe_backend.intent(payment.intent_id)
    assert (intent.status, intent.customer, intent.amount) == (
        "requires_capture",
        payment.customer_id,
        4500,
    )
    assert on_worker(payment_tasks.payments_authorise_due) == 0  # nothing due twice
    assert on_worker(payment_tasks.payment_authorise_off_session, (payment.pk,)) == "authorized"
    assert len(v1.payment_intents.list(params={"limit": 100}).data) == len(
        {i.id for i in v1.payment_intents.list(params={"limit": 100}).data}
    )

    # The payer's next lesson far ahead reuses their Customer.
    second = book(as_student, service, days_ahead=9, payment_method=stripe_backend.card())
    assert payment_of(second).customer_id == payment.customer_id


def test_a_saved_card_refused_off_session_asks_the_student_to_pay_by_a_deadline(
    worker, stripe_backend, as_student, student, service
):
    card = stripe_backend.card(CARD_DECLINED_ON_CHARGE)  # attaches, declined when charged
    body = book(as_student, service, days_ahead=8, payment_method=card)
    assert body["payment"]["status"] == "card_saved"
    payment = payment_of(body)
    make_due(payment)
    assert on_worker(payment_tasks.payments_authorise_due) == 1
    wait_until(lambda: Payment.objects.get(pk=payment.pk).status == PaymentState.REQUIRES_PAYMENT)
    payment.refresh_from_db()
    assert payment.pay_by is not None and payment.pay_by > timezone.now()
    assert "declined" in payment.failure
    # The student pays on-session with this intent's client secret.
    assert payment.client_secret.startswith(payment.intent_id + "_secret_")
    assert stripe_backend.intent(payment.intent_id).status == "requires_payment_method"
    assert Booking.objects.get(pk=body["id"]).status == BookingStatus.CONFIRMED
    assert "payment.failed" in [t for t, _ in events_on(f"user:{student.pk}")]
    email = OutgoingEmail.objects.get(to=student.email, key__startswith="pay-by-")
    assert "refused" in email.body and "Please pay" in email.subject
    assert on_worker(payment_tasks.payment_authorise_off_session, (payment.pk,)) == (
        "requires_payment"  # run again: nothing more
    )

    # The deadline passes unpaid: the booking expires, the time is freed, the intent dropped.
    Payment.objects.filter(pk=payment.pk).update(pay_by=timezone.now() - timedelta(minutes=1))
    assert on_worker(booking_tasks.bookings_expire) == 1
    assert on_worker(booking_tasks.bookings_expire) == 0
    booking = Booking.objects.get(pk=body["id"])
    assert booking.status == BookingStatus.EXPIRED
    assert is_free_slot(service=service, start=booking.start)
    wait_until(lambda: stripe_backend.intent(payment.intent_id).status == "canceled")
    assert Payment.objects.get(pk=payment.pk).status == PaymentState.RELEASED


def test_a_cancellation_while_the_authorisation_is_in_flight_releases_the_hold_in_the_end(
    worker, stripe_backend, settings, as_student, service
):
    """The issue's race: the student cancels while Stripe is still answering the
    authorisation; the late answer lands on the cancelled booking and the hold goes back."""
    proxy = GatedProxy(stripe_backend.url)
    settings.STRIPE_API_BASE = proxy.url
    payment_backend.cache_clear()
    card = stripe_backend.card()
    answers = {}

    def booking_in_flight():
        try:
            answers["booked"] = book(as_student, service, payment_method=card)
        finally:
            connections.close_all()

    thread = threading.Thread(target=booking_in_flight)
    thread.start()
    try:
        assert proxy.arrived.wait(20), "the authorisation never reached Stripe"
        booking = Booking.objects.get()
        assert booking.status == BookingStatus.PENDING_PAYMENT
        cancelled = cancel(as_student, {"id": booking.pk})
        assert (cancelled["status"], cancelled["payment"]["status"]) == ("cancelled", "released")
        proxy.gate.set()
        thread.join(30)
        assert answers["booked"]["status"] == "cancelled"
        payment = Payment.objects.get()
        assert payment.status == PaymentState.RELEASED and payment.intent_id
        # The late answer queued a release (payments.payment_release) for the worker.
        wait_until(lambda: stripe_backend.intent(payment.intent_id).status == "canceled")
    finally:
        proxy.stop()
        thread.join(30)


def test_every_settling_task_run_twice_captures_once(worker, stripe_backend, as_student, service):
    body = book(as_student, service, payment_method=stripe_backend.card())
    lesson_ended(Booking.objects.get(pk=body["id"]))
    assert on_worker(booking_tasks.bookings_complete) == 1
    assert on_worker(booking_tasks.bookings_complete) == 0
    on_worker(booking_tasks.booking_payment_settle, (body["id"],))
    payment = payment_of(body)
    assert (payment.status, payment.captured_cents) == (PaymentState.CAPTURED, 4500)
    # A capture retried after its answer was lost: Stripe's intent is already captured.
    again = payment_backend().capture(payment=payment, amount_cents=4500)
    assert (again.status, again.captured_cents) == (PaymentState.CAPTURED, 4500)
    events = stripe_backend.client.v1.events.list(
        params={"type": "payment_intent.succeeded", "limit": 100}
    )
    captures = [e for e in events.data if e.data.object.id == payment.intent_id]
    assert len(captures) == 1
    charge = charge_of(stripe_backend, stripe_backend.intent(payment.intent_id))
    assert (charge.amount, charge.amount_refunded) == (4500, 0)


def test_a_release_run_twice_cancels_once_and_a_refund_is_for_the_amount_asked(
    worker, stripe_backend, as_student, service
):
    body = book(as_student, service, days_ahead=2, payment_method=stripe_backend.card())
    payment = payment_of(body)
    assert on_worker(payment_tasks.payment_release, (payment.pk,)) == "released"
    assert on_worker(payment_tasks.payment_release, (payment.pk,)) == "released"
    assert stripe_backend.intent(payment.intent_id).status == "canceled"
    # Released already at Stripe (an earlier try went through): the backend says so.
    assert payment_backend().release(payment=payment).status == PaymentState.RELEASED

    other = book(as_student, service, days_ahead=3, payment_method=stripe_backend.card())
    paid = payment_services.payment_capture(payment_id=payment_of(other).pk, amount_cents=4500)
    paid = payment_services.payment_refund(payment_id=paid.pk, amount_cents=1500)
    assert (paid.status, paid.refunded_cents) == (PaymentState.PARTIALLY_REFUNDED, 1500)
    paid = payment_services.payment_refund(payment_id=paid.pk, amount_cents=9999)
    assert (paid.status, paid.refunded_cents) == (PaymentState.REFUNDED, 4500)
    charge = charge_of(stripe_backend, stripe_backend.intent(paid.intent_id))
    assert charge.amount_refunded == 4500  # never over-refunded
    synced = payment_services.payment_sync(payment_id=paid.pk)
    assert (synced.status, synced.captured_cents, synced.refunded_cents) == ("refunded", 4500, 4500)
