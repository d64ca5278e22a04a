"""How a booking moves: compare-and-swap on its row, the money its new state calls
for, and the events that announce both, built from the final row."""

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bookings.events import availability_changed, booking_event, payment_event
from bookings.models import Booking
from bookings.selectors import settlement_action
from payments.backends import PaymentError, PaymentResult, PaymentStatus, payment_backend

logger = logging.getLogger(__name__)


def booking_reload(booking_id: int) -> Booking:
    return Booking.objects.select_related("student", "instructor__user", "service").get(
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


_PAYMENT_EVENTS = {
    PaymentStatus.CAPTURED: "payment.captured",
    PaymentStatus.REFUNDED: "payment.refunded",
    PaymentStatus.RELEASED: "payment.released",
}


def booking_payment_settle(*, booking_id: int) -> Booking:
    """Capture, release or refund what a final state left unsettled. Safe to run twice.

    The periodic sweep calls it after a backend failure. The backend is asked outside
    any transaction; its outcome is recorded only if the payment is still as it was.
    """
    booking = booking_reload(booking_id)
    outcome = _ask_backend(settlement_action(booking), booking)
    if outcome is None:
        return booking
    with transaction.atomic():
        recorded = booking_swap(
            booking_id,
            when=Q(payment_status=booking.payment_status),
            payment_status=outcome.status,
        )
        booking = booking_reload(booking_id)
        if recorded and outcome.status in _PAYMENT_EVENTS:
            payment_event(booking, _PAYMENT_EVENTS[outcome.status])
    return booking


def _ask_backend(action: str | None, booking: Booking) -> PaymentResult | None:
    """Capture, release or refund; None when there is nothing to do or the backend failed
    (the payment stays as it was, for the periodic sweep to retry)."""
    if action is None:
        return None
    try:
        result: PaymentResult = getattr(payment_backend(), action)(
            payment_reference=booking.payment_reference
        )
    except PaymentError as error:
        logger.warning("Could not %s payment of booking %s: %s", action, booking.pk, error)
        return None
    return result


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

    Slow work stays out of the transaction: the backend is asked first, for what the new
    state calls for, and then one short transaction moves the booking, records the
    payment's outcome and announces both from the final row, so every event is what
    REST answers once it commits.
    """
    current = booking_reload(booking_id)
    if not Booking.objects.filter(when, pk=booking_id).exists():
        return None
    planned = Booking(status=status, payment_status=current.payment_status)
    planned.payment_reference = current.payment_reference
    outcome = _ask_backend(settlement_action(planned), current)
    if outcome is not None:
        changes["payment_status"] = outcome.status
    with transaction.atomic():
        moved = booking_swap(booking_id, when=when, status=status, **changes)
        if not moved and outcome is not None:
            # Raced within the moment since the check: the money moved all the same.
            logger.warning("Booking %s changed while its payment settled", booking_id)
            booking_swap(booking_id, when=Q(), payment_status=outcome.status)
        booking = booking_reload(booking_id)
        if moved:
            booking_event(booking, event_type)
            if held_time_reason is not None:
                held_time_changed(booking, held_time_reason)
        if outcome is not None and outcome.status in _PAYMENT_EVENTS:
            payment_event(booking, _PAYMENT_EVENTS[outcome.status])
    return booking if moved else None
