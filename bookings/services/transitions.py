"""How a booking moves: compare-and-swap on its row, the money its new state calls for,
and the events that announce the move, built from the final row."""

import copy
import logging
from contextvars import ContextVar

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bookings.due import cancelled_late_by_student, late_cancellation_share, settlement_for
from bookings.events import availability_changed, booking_event, payment_event
from bookings.models import Booking
from payments.backends import PaymentError
from payments.models import PaymentState
from payments.services import payment_capture, payment_refund, payment_release

logger = logging.getLogger(__name__)

# The booking whose transition is settling its money now: its payment events wait for
# the move, to be announced after the booking's own event from the final row.
settling: ContextVar[int | None] = ContextVar("settling", default=None)

PAYMENT_EVENTS: dict[str, str] = {
    PaymentState.AUTHORIZED: "payment.authorized",
    PaymentState.CARD_SAVED: "payment.card_saved",
    PaymentState.CAPTURED: "payment.captured",
    PaymentState.PARTIALLY_REFUNDED: "payment.refunded",
    PaymentState.REFUNDED: "payment.refunded",
    PaymentState.RELEASED: "payment.released",
    PaymentState.FAILED: "payment.failed",
}


def booking_reload(booking_id: int) -> Booking:
    return Booking.objects.select_related("student", "instructor__user", "service", "payment").get(
        pk=booking_id
    )


def booking_swap(booking_id: int, *, when: Q, **changes: object) -> bool:
    """Change a booking only if it still matches `when`: a lost race changes nothing."""
    rows = Booking.objects.filter(when, pk=booking_id)
    return rows.update(updated_at=timezone.now(), **changes) == 1


def held_time_changed(booking: Booking, reason: str) -> None:
    """Calendars showing the booking's held time refetch it: taken or freed."""
    availability_changed(
        instructor_id=booking.instructor_id,
        start=booking.hold_start,
        end=booking.hold_end,
        reason=reason,
    )


def booking_payment_settle(*, booking_id: int) -> Booking:
    """Capture, release or refund what the booking's state still calls for. Safe to run
    twice: the payment moves once. Raises PaymentError when the provider is away."""
    booking = booking_reload(booking_id)
    _settle(booking, settlement_for(booking))
    return booking_reload(booking_id)


def _settle(booking: Booking, action: tuple[str, int] | None) -> None:
    """Ask payments to move the money, outside any transaction; payments tells bookings
    the outcome (`booking_payment_changed`), which announces it."""
    if action is None or booking.payment_id is None:
        return
    kind, cents = action
    if kind == "capture":
        payment = booking.payment
        late = payment is not None and cancelled_late_by_student(booking)
        kept = late_cancellation_share(payment.credit_cents) if payment and late else None
        payment_capture(payment_id=booking.payment_id, amount_cents=cents, credit_kept_cents=kept)
    elif kind == "release":
        payment_release(payment_id=booking.payment_id)
    else:
        payment_refund(payment_id=booking.payment_id, amount_cents=cents)


def _settle_or_leave(booking: Booking, action: tuple[str, int] | None) -> None:
    """Settle now if the provider answers; else the periodic sweep retries."""
    try:
        _settle(booking, action)
    except PaymentError as error:
        logger.warning("Could not settle the payment of booking %s: %s", booking.pk, error)


def booking_transition(
    booking_id: int,
    *,
    when: Q,
    event_type: str,
    held_time_reason: str | None = None,
    status: str,
    **changes: object,
) -> Booking | None:
    """Move a booking to `status` and settle the money that state calls for; None when
    the booking no longer matches `when` (a lost race changes nothing).

    The money is settled first, outside any transaction, for the state the booking is
    about to have; then one short transaction moves the booking and announces it, so
    the event carries the payment as REST answers it.
    """
    current = booking_reload(booking_id)
    if not Booking.objects.filter(when, pk=booking_id).exists():
        return None
    planned = copy.copy(current)
    planned.status = status
    for name, value in changes.items():
        setattr(planned, name, value)
    token = settling.set(booking_id)
    attempted = settlement_for(planned)
    try:
        _settle_or_leave(planned, attempted)
    finally:
        settling.reset(token)
    with transaction.atomic():
        moved = booking_swap(booking_id, when=when, status=status, **changes)
        booking = booking_reload(booking_id)
        if moved:
            booking_event(booking, event_type)
            if held_time_reason is not None:
                held_time_changed(booking, held_time_reason)
        paid_now = booking.payment.status if booking.payment else None
        paid_before = current.payment.status if current.payment else None
        if paid_now != paid_before and paid_now in PAYMENT_EVENTS:
            payment_event(booking, PAYMENT_EVENTS[paid_now])
    if moved and settlement_for(booking) not in (None, attempted):
        _settle_or_leave(booking, settlement_for(booking))  # the payment changed meanwhile
    return booking if moved else None
