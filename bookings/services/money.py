"""What bookings does when payments reports a change: confirm, cancel, announce, settle.

Registered with payments at start-up (`BookingsConfig.ready`); it runs inside the
transaction that records the payment's change, so the booking moves with it or not at all.
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bookings.due import settlement_for
from bookings.events import booking_event, payment_event
from bookings.models import BookingStatus
from bookings.notices import payment_failed_notify
from bookings.services.transitions import (
    PAYMENT_EVENTS,
    booking_reload,
    booking_swap,
    held_time_changed,
    settling,
)
from payments.models import Payment, PaymentState

PENDING = Q(status=BookingStatus.PENDING_PAYMENT)


def booking_payment_changed(payment: Payment, previous: str) -> None:
    """Land the payment's new state on the booking's current state, whatever it is now."""
    booking_id = int(payment.reference.removeprefix("booking-"))
    if settling.get() == booking_id:
        return  # its transition announces the outcome with the move
    booking = booking_reload(booking_id)
    status = payment.status
    if status in (PaymentState.AUTHORIZED, PaymentState.CARD_SAVED):
        if booking_swap(booking_id, when=PENDING, status=BookingStatus.CONFIRMED):
            booking = booking_reload(booking_id)
            booking_event(booking, "booking.confirmed")
        payment_event(booking, PAYMENT_EVENTS[status])
    elif status == PaymentState.FAILED:
        payment_event(booking, "payment.failed")
        if booking_swap(
            booking_id,
            when=PENDING,
            status=BookingStatus.CANCELLED,
            cancel_reason="payment_failed",
            cancelled_at=timezone.now(),
        ):
            booking = booking_reload(booking_id)
            booking_event(booking, "booking.cancelled")
            held_time_changed(booking, "payment_failed")
        payment_failed_notify(booking)
    elif status == PaymentState.REQUIRES_PAYMENT and previous == PaymentState.CARD_SAVED:
        payment_event(booking, "payment.failed")  # the saved card was refused: pay by pay_by
        payment_failed_notify(booking)
    elif status in PAYMENT_EVENTS:
        payment_event(booking, PAYMENT_EVENTS[status])
    if settlement_for(booking) is not None:
        # The booking moved on while the provider answered (e.g. cancelled during the
        # authorisation): settle what its state calls for once this commits.
        from bookings.tasks import booking_payment_settle

        transaction.on_commit(lambda: booking_payment_settle.delay(booking_id))
