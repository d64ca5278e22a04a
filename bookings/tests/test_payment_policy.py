"""The money follows the booking's life: cancellation policy, lessons far ahead, and an
authorisation that answers after the booking was cancelled.

Providers that refuse or stall are stand-ins behind the payments interface; everything
of ours (services, tasks on a real worker, the event log, the outbox) runs for real.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import services
from bookings.due import payment_hold_lapsed
from bookings.models import Booking, BookingStatus
from bookings.selectors import is_free_slot
from conventions.models import OutgoingEmail
from payments import tasks as payment_tasks
from payments.backends import DevBackend, PaymentError, ProviderPayment
from payments.models import CreditReason, Payment, PaymentState
from payments.services import credit_balance, credit_grant
from tests.helpers import events_on, last_seq, next_free_start, on_worker

pytestmark = pytest.mark.django_db(transaction=True)


def book(service, student, *, days_ahead: int = 1) -> Booking:
    start = next_free_start(service, days_ahead=days_ahead)
    booking, _ = services.booking_create(
        student=student, service_id=service.pk, start=start, location_type="online"
    )
    return booking


def types_on(user_id: int, after: int = 0) -> list[str]:
    return [event_type for event_type, _ in events_on(f"user:{user_id}", after)]


def test_a_late_cancellation_by_the_student_captures_the_share_and_releases_the_rest(
    service, student, settings
):
    settings.BOOKINGS_LATE_CANCELLATION_CAPTURE_PERCENT = 50
    booking = book(service, student)  # tomorrow: within the 24 free hours only if close
    make_late(booking)
    seq = last_seq(f"user:{student.pk}")
    cancelled = services.booking_cancel(user=student, booking_id=booking.pk, reason="ill")
    assert cancelled.payment.status == PaymentState.CAPTURED
    assert cancelled.payment.captured_cents == 2250  # half of 4500
    assert types_on(student.pk, seq) == ["booking.cancelled", "payment.captured"]
    assert services.booking_payment_settle(booking_id=booking.pk).payment.captured_cents == 2250


def test_an_early_cancellation_by_the_student_releases_everything(service, student):
    booking = book(service, student, days_ahead=3)
    cancelled = services.booking_cancel(user=student, booking_id=booking.pk, reason="clash")
    assert (cancelled.payment.status, cancelled.payment.captured_cents) == ("released", 0)


class RefusingOffSession(DevBackend):
    """Saves cards, then refuses the off-session charge as a bank would."""

    name = "refusing_off_session"

    def authorise(self, *, payment, payment_method="", off_session=False) -> ProviderPayment:
        if off_session:
            raise PaymentError("Your card was declined.", declined=True)
        return super().authorise(payment=payment, payment_method=payment_method)


def test_a_lesson_far_ahead_saves_the_card_then_authorises_off_session(worker, service, student):
    booking = book(service, student, days_ahead=20)
    assert (booking.status, booking.payment.status) == ("confirmed", "card_saved")
    assert types_on(student.pk)[-2:] == ["booking.confirmed", "payment.card_saved"]
    on_worker(payment_tasks.payments_authorise_due)  # not due yet
    assert Payment.objects.get(pk=booking.payment_id).status == "card_saved"
    Payment.objects.filter(pk=booking.payment_id).update(
        authorise_after=timezone.now() - timedelta(minutes=1)
    )
    assert on_worker(payment_tasks.payments_authorise_due) == 1
    assert on_worker(payment_tasks.payment_authorise_off_session, (booking.payment_id,)) == (
        "authorized"  # run twice (the sweep queued one too): one authorisation
    )
    assert types_on(student.pk).count("payment.authorized") == 1


def test_a_refused_saved_card_asks_the_student_to_pay_by_a_deadline_then_expires(
    worker, provider, service, student
):
    provider(RefusingOffSession)
    booking = book(service, student, days_ahead=20)
    Payment.objects.filter(pk=booking.payment_id).update(
        authorise_after=timezone.now() - timedelta(minutes=1)
    )
    seq = last_seq(f"user:{student.pk}")
    assert on_worker(payment_tasks.payment_authorise_off_session, (booking.payment_id,)) == (
        "requires_payment"
    )
    booking.refresh_from_db()
    payment = booking.payment
    assert booking.status == "confirmed" and payment.pay_by is not None
    assert "declined" in payment.failure
    assert types_on(student.pk, seq) == ["payment.failed"]
    notice = OutgoingEmail.objects.get(to=student.email, key__startswith="pay-by-")
    assert "Please pay" in notice.subject
    now = timezone.now()
    assert not Booking.objects.filter(payment_hold_lapsed(now=now), pk=booking.pk).exists()
    Payment.objects.filter(pk=payment.pk).update(pay_by=now - timedelta(seconds=1))
    assert services.booking_expire(booking_id=booking.pk)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert is_free_slot(service=service, start=booking.start)


class StallingBackend(DevBackend):
    """Authorises only when the test lets it, noting each release it is asked for."""

    name = "stalling"
    asked = threading.Event()
    answer = threading.Event()
    released: list[str] = []

    def authorise(self, *, payment, payment_method="", off_session=False) -> ProviderPayment:
        self.asked.set()
        assert self.answer.wait(10)
        return ProviderPayment(PaymentState.AUTHORIZED, intent_id="dev_in_flight")

    def release(self, *, payment) -> ProviderPayment:
        self.released.append(payment.intent_id)
        return super().release(payment=payment)


def test_a_cancel_while_the_authorisation_is_in_flight_still_releases_the_hold(
    worker, provider, service, student
):
    provider(StallingBackend)
    StallingBackend.asked.clear()
    StallingBackend.answer.clear()
    StallingBackend.released.clear()
    made: dict = {}
    booking_thread = threading.Thread(target=lambda: made.update(b=book(service, student)))
    booking_thread.start()
    assert StallingBackend.asked.wait(10)  # the booking is committed; its payment in flight
    booking = Booking.objects.get(student=student)
    services.booking_cancel(user=student, booking_id=booking.pk, reason="changed my mind")
    StallingBackend.answer.set()  # the provider now says: authorised
    booking_thread.join(10)
    deadline = time.monotonic() + 10
    while "dev_in_flight" not in StallingBackend.released and time.monotonic() < deadline:
        time.sleep(0.05)  # the release task queued on commit runs on the worker
    assert StallingBackend.released == ["dev_in_flight"]
    booking.refresh_from_db()
    assert (booking.status, booking.payment.status) == ("cancelled", "released")
    assert booking.payment.intent_id == "dev_in_flight"  # the reference was kept
    assert "booking.confirmed" not in types_on(student.pk)
    assert made["b"].status == "cancelled"


def make_late(booking: Booking) -> None:
    soon = timezone.now() + timedelta(hours=3)
    Booking.objects.filter(pk=booking.pk).update(
        start=soon,
        end=soon + timedelta(hours=1),
        hold_start=soon,
        hold_end=soon + timedelta(hours=1),
    )


@pytest.mark.parametrize(
    ("credit", "captured", "credit_back"),
    [(2000, 1250, 1000), (5000, 0, 2250)],
    ids=["part credit", "all credit"],
)
def test_a_late_cancellation_forfeits_the_same_share_of_card_and_credit(
    service, student, settings, credit, captured, credit_back
):
    settings.BOOKINGS_LATE_CANCELLATION_CAPTURE_PERCENT = 50
    credit_grant(user_id=student.pk, currency="EUR", amount_cents=credit,
                 reason=CreditReason.STAFF_GRANT)  # fmt: skip
    booking = book(service, student)
    make_late(booking)
    cancelled = services.booking_cancel(user=student, booking_id=booking.pk, reason="ill")
    assert (cancelled.payment.status, cancelled.payment.captured_cents) == ("captured", captured)
    spent = min(credit, 4500)
    assert credit_balance(user_id=student.pk, currency="EUR") == credit - spent + credit_back
    services.booking_payment_settle(booking_id=booking.pk)  # twice: nothing more
    assert credit_balance(user_id=student.pk, currency="EUR") == credit - spent + credit_back


def test_an_instructor_cancelling_an_unpaid_booking_late_grants_no_credit(
    provider, service, student, instructor
):
    provider(StallingBackend)  # never answers: the booking stays unpaid
    StallingBackend.answer.set()
    StallingBackend.asked.clear()
    booking = book(service, student)
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.PENDING_PAYMENT)
    make_late(booking)
    services.booking_cancel(user=instructor, booking_id=booking.pk, reason="sick")
    assert credit_balance(user_id=student.pk, currency="EUR") == 0
