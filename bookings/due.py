"""When a booking is due for a change: a lapsed payment hold, an ended lesson, money to
settle by the cancellation policy.

Written once: the periodic jobs find rows with these rules, and the services guard their
compare-and-swap with the same ones.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from payments.models import CreditEntry, CreditReason, PaymentState


def payment_hold_lapsed(*, now: datetime) -> Q:
    """Unpaid `BOOKINGS_PAYMENT_HOLD_MINUTES` after it was made, or past the deadline to pay
    that a refused off-session authorisation set: the time goes back."""
    cutoff = now - timedelta(minutes=settings.BOOKINGS_PAYMENT_HOLD_MINUTES)
    # Released too: expiring releases the payment just before the booking moves.
    unpaid = (PaymentState.REQUIRES_PAYMENT, PaymentState.RELEASED)
    return Q(status=BookingStatus.PENDING_PAYMENT, created_at__lte=cutoff) | Q(
        status=BookingStatus.CONFIRMED, payment__status__in=unpaid, payment__pay_by__lte=now
    )


def lesson_ended(*, now: datetime) -> Q:
    """A confirmed lesson is over once its own end time has passed."""
    return Q(status=BookingStatus.CONFIRMED, end__lte=now)


# Payment states in which the provider may still hold money for the booking.
HELD = (PaymentState.REQUIRES_PAYMENT, PaymentState.CARD_SAVED, PaymentState.AUTHORIZED)
REFUNDABLE = (PaymentState.CAPTURED, PaymentState.PARTIALLY_REFUNDED)


def _free_cancellation() -> timedelta:
    return timedelta(hours=settings.BOOKINGS_FREE_CANCELLATION_HOURS)


def cancelled_late_by_student(booking: Booking) -> bool:
    return (
        booking.cancelled_by_id == booking.student_id
        and booking.cancelled_at is not None
        and booking.start - booking.cancelled_at < _free_cancellation()
    )


def late_cancellation_share(cents: int) -> int:
    """What a student's late cancellation forfeits of an amount (card charge or credit)."""
    return round(cents * settings.BOOKINGS_LATE_CANCELLATION_CAPTURE_PERCENT / 100)


def settlement_for(booking: Booking) -> tuple[str, int] | None:
    """What the money must still do for the booking's state, by the cancellation policy:
    ("capture", cents), ("release", 0) or ("refund", cents); None when nothing is left."""
    payment = booking.payment
    if payment is None:
        return None
    held, status = payment.status in HELD, booking.status
    # A failed payment holds no money, but the credit it spent must come back.
    owes_credit = payment.status == PaymentState.FAILED and payment.credit_cents > 0
    if status in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW):
        authorized = payment.status == PaymentState.AUTHORIZED
        return ("capture", payment.charge_cents) if authorized else None
    if status == BookingStatus.EXPIRED:
        return ("release", 0) if held or owes_credit else None
    if status != BookingStatus.CANCELLED:
        return None
    if cancelled_late_by_student(booking):
        share = late_cancellation_share(payment.charge_cents)
        # Credit alone (no card) is "captured" too: the student keeps back only its rest.
        if payment.status == PaymentState.AUTHORIZED and (share > 0 or not payment.charge_cents):
            return ("capture", share)
        return ("release", 0) if held or owes_credit else None
    if held or owes_credit:
        return ("release", 0)
    if payment.status in REFUNDABLE and payment.refunded_cents < payment.captured_cents:
        return ("refund", payment.captured_cents - payment.refunded_cents)
    return None


def payment_unsettled() -> Q:
    """The rows `settlement_for` may call for something on (it decides for each)."""
    late_by_student = Q(cancelled_by=F("student")) & Q(
        cancelled_at__gt=F("start") - _free_cancellation()
    )
    # A failed payment's credit comes back once; after that there is nothing to settle.
    credit_returned = Exists(
        CreditEntry.objects.filter(
            reason=CreditReason.RETURNED,
            user=OuterRef("payment__payer"),
            reference=OuterRef("payment__reference"),
        )
    )
    return (
        Q(status__in=[BookingStatus.COMPLETED, BookingStatus.NO_SHOW],
          payment__status=PaymentState.AUTHORIZED)
        | Q(status__in=[BookingStatus.EXPIRED, BookingStatus.CANCELLED], payment__status__in=HELD)
        | (Q(status=BookingStatus.CANCELLED, payment__status__in=REFUNDABLE,
             payment__refunded_cents__lt=F("payment__captured_cents")) & ~late_by_student)
        | Q(~credit_returned, status__in=[BookingStatus.EXPIRED, BookingStatus.CANCELLED],
            payment__status=PaymentState.FAILED, payment__credit_cents__gt=0)
    )  # fmt: skip


def _ids(rule: Q) -> list[int]:
    return list(Booking.objects.filter(rule).order_by("pk").values_list("pk", flat=True))


def booking_ids_to_expire(*, now: datetime | None = None) -> list[int]:
    return _ids(payment_hold_lapsed(now=now or timezone.now()))


def booking_ids_to_complete(*, now: datetime | None = None) -> list[int]:
    return _ids(lesson_ended(now=now or timezone.now()))


def booking_ids_to_settle() -> list[int]:
    return _ids(payment_unsettled())
