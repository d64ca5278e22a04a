"""The booking state machine: every status change happens here, under a compare-and-swap.

pending_payment ─▶ confirmed ─▶ completed ─▶ (no_show, within the grace period)
      │                │  └──────────────▶ no_show
      ▼                ▼
   expired         cancelled   (pending_payment may be cancelled too)
"""

import copy
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.erasure import user_hold_active
from accounts.models import Role, User
from bookings.due import lesson_ended, payment_hold_lapsed
from bookings.events import availability_changed, booking_event, payment_event
from bookings.models import (
    HOLDING_STATUSES,
    PLACE_MAX_LENGTH,
    Booking,
    BookingStatus,
    InstructorProfile,
    LocationType,
    Service,
)
from bookings.selectors import booking_get, not_a_free_slot, require_free_slot
from bookings.services.transitions import (
    booking_reload,
    booking_swap,
    booking_transition,
    held_time_changed,
)
from conventions.errors import Conflict, Forbidden, Invalid, NotFound
from conventions.text import text_clean
from payments.backends import PaymentError
from payments.models import CreditReason, PaymentState
from payments.services import (
    credit_grant,
    payment_authorise,
    payment_open,
    payment_reschedule,
    payment_sync,
)

logger = logging.getLogger(__name__)


PENDING = Q(status=BookingStatus.PENDING_PAYMENT)
HOLDING = Q(status__in=HOLDING_STATUSES)


def _lock_instructor(instructor_id: int) -> None:
    """Serialise writes to one instructor's calendar (the exclusion constraint backs it)."""
    InstructorProfile.objects.select_for_update().filter(pk=instructor_id).first()


def _student_is_busy(
    student: User, start: datetime, end: datetime, ignore_id: int | None = None
) -> bool:
    lessons = Booking.objects.filter(
        student=student, status__in=HOLDING_STATUSES, start__lt=end, end__gt=start
    )
    if ignore_id is not None:
        lessons = lessons.exclude(pk=ignore_id)
    return lessons.exists()


def _lesson_times(service: Service, start: datetime) -> dict[str, datetime]:
    """The lesson, and the time it holds: widened by the service's buffers."""
    end = start + timedelta(minutes=service.duration_minutes)
    return {
        "start": start,
        "end": end,
        "hold_start": start - timedelta(minutes=service.buffer_before_minutes),
        "hold_end": end + timedelta(minutes=service.buffer_after_minutes),
    }


def _as_booked(booking: Booking) -> Service:
    """The service with the booking's own length: a moved lesson keeps the terms it was
    made on, while the instructor's current buffers, notice and slot grid still apply."""
    service = copy.copy(booking.service)
    service.slot_interval_minutes = service.slot_step_minutes
    service.duration_minutes = int((booking.end - booking.start).total_seconds() // 60)
    return service


def _earlier_with_key(student: User, idempotency_key: str) -> Booking | None:
    if not idempotency_key:
        return None
    return Booking.objects.filter(student=student, idempotency_key=idempotency_key).first()


def _same_request(booking: Booking, service_id: int, start: datetime) -> Booking:
    if booking.service_id != service_id or booking.start != start:
        raise Conflict(
            "This Idempotency-Key was used for a different booking.",
            details={"booking_id": booking.pk},
        )
    return booking_reload(booking.pk)


def booking_create(
    *,
    student: User,
    service_id: int,
    start: datetime,
    location_type: str,
    note: str = "",
    meeting_point: str = "",
    address: str = "",
    idempotency_key: str = "",
    payment_method: str = "",
) -> tuple[Booking, bool]:
    """Hold a free slot for a student, then authorise the payment (with `payment_method`,
    a card the browser collected, confirmed at once).

    Where it happens is fixed now (`_place`): a later change of the instructor's
    address does not move lessons already booked.

    Returns the booking and whether it is new: a repeated `idempotency_key`
    returns the first booking made with it.
    """
    if student.role != Role.STUDENT:
        raise Forbidden("Only students book lessons.")
    note = text_clean(note, field="note", multi_line=True, max_length=2000)
    earlier = _earlier_with_key(student, idempotency_key)
    if earlier is not None:
        return _same_request(earlier, service_id, start), False
    service = Service.objects.select_related("instructor").filter(pk=service_id).first()
    if service is None or not service.is_active:
        raise NotFound("No such service.")
    if location_type not in service.location_type_list:
        raise Invalid(
            "The service is not offered at this location type.",
            details={"location_type": f"one of {', '.join(service.location_type_list)}"},
        )
    place = _place(location_type, service.instructor, meeting_point=meeting_point, address=address)
    end = start + timedelta(minutes=service.duration_minutes)
    try:
        with transaction.atomic():
            _lock_instructor(service.instructor_id)
            # The student's account may not close, nor the service retire (an instructor's
            # erasure retires them all), between our checks and our commit.
            user_hold_active(user=student)
            if not Service.objects.filter(pk=service.pk, is_active=True).exists():
                raise NotFound("No such service.")
            # A racing retry with our key may have committed while we waited for the lock.
            earlier = _earlier_with_key(student, idempotency_key)
            if earlier is not None:
                return _same_request(earlier, service_id, start), False
            require_free_slot(service=service, start=start)
            if _student_is_busy(student, start, end):
                raise Conflict("You already have a lesson at this time.")
            booking = Booking.objects.create(
                student=student,
                instructor_id=service.instructor_id,
                service=service,
                status=BookingStatus.PENDING_PAYMENT,
                **_lesson_times(service, start),
                location_type=location_type,
                place=place,
                note=note,
                price_cents=service.price_cents,
                currency=service.currency,
                idempotency_key=idempotency_key,
            )
            payment = payment_open(
                reference=f"booking-{booking.pk}",
                payer_id=student.pk,
                payee_id=service.instructor_id,
                amount_cents=service.price_cents,
                currency=service.currency,
                description=f"{service.name} on {start:%Y-%m-%d %H:%M} UTC",
                capture_after=start,
            )
            paid = payment.status == PaymentState.AUTHORIZED  # by credit alone
            Booking.objects.filter(pk=booking.pk).update(
                payment=payment, **({"status": BookingStatus.CONFIRMED} if paid else {})
            )
            booking = booking_reload(booking.pk)
            booking_event(booking, "booking.created")
            if paid:
                booking_event(booking, "booking.confirmed")
                payment_event(booking, "payment.authorized")
            held_time_changed(booking, "booked")
    except IntegrityError:
        # Another request won: the overlap constraint, or the same Idempotency-Key.
        earlier = _earlier_with_key(student, idempotency_key)
        if earlier is not None:
            return _same_request(earlier, service_id, start), False
        raise not_a_free_slot() from None
    return booking_payment_authorise(booking_id=booking.pk, payment_method=payment_method), True


def _place(
    location_type: str, instructor: InstructorProfile, *, meeting_point: str, address: str
) -> str:
    """The text of where a lesson happens, by its location type; each text is refused
    for the other location types."""
    given = {
        "meeting_point": (meeting_point, LocationType.NEUTRAL_LOCATION),
        "address": (address, LocationType.STUDENT_LOCATION),
    }
    texts: dict[str, str] = {}
    for field, (value, kind) in given.items():
        texts[kind] = text_clean(value, field=field, max_length=PLACE_MAX_LENGTH)
        if texts[kind] and location_type != kind:
            raise Invalid(
                f"`{field}` is only for `{kind}` lessons.",
                details={field: f"only with location_type {kind}"},
            )
    if location_type == LocationType.INSTRUCTOR_LOCATION:
        return str(instructor.address)
    return texts.get(location_type, "")


def booking_payment_authorise(*, booking_id: int, payment_method: str = "") -> Booking:
    """Ask payments to reserve the price; its outcome confirms or cancels the booking
    (`booking_payment_changed`), whatever state the booking is in by then."""
    booking = booking_reload(booking_id)
    if booking.status == BookingStatus.PENDING_PAYMENT and booking.payment_id is not None:
        payment_authorise(payment_id=booking.payment_id, payment_method=payment_method)
    return booking_reload(booking_id)


def booking_cancel(*, user: User, booking_id: int, reason: str) -> Booking:
    """Either participant cancels a lesson that has not started; the time is freed."""
    booking = booking_get(user=user, booking_id=booking_id)
    return _cancel(booking.pk, by=user, reason=reason)


def booking_cancel_by_staff(*, staff: User, booking_id: int, reason: str) -> Booking:
    """Support cancels on someone's behalf (the admin action); recorded as the staff user."""
    if not staff.is_staff:
        raise Forbidden("Only staff may cancel other people's bookings.")
    if not Booking.objects.filter(pk=booking_id).exists():
        raise NotFound("No such booking.")
    return _cancel(booking_id, by=staff, reason=reason)


def _cancel(booking_id: int, *, by: User, reason: str) -> Booking:
    reason = text_clean(reason, field="reason", max_length=500)
    now = timezone.now()
    was_confirmed = Booking.objects.filter(pk=booking_id, status=BookingStatus.CONFIRMED).exists()
    booking = booking_transition(
        booking_id,
        when=HOLDING & Q(start__gt=now),
        event_type="booking.cancelled",
        held_time_reason="cancelled",
        status=BookingStatus.CANCELLED,
        cancelled_by=by,
        cancel_reason=reason,
        cancelled_at=now,
    )
    if booking is None:
        current = booking_reload(booking_id)
        if current.status in HOLDING_STATUSES:
            raise Conflict("The lesson has already started.")
        raise Conflict(f"A {current.status} booking cannot be cancelled.")
    if was_confirmed:  # an unpaid booking earns no credit
        _credit_for_late_instructor_cancellation(booking, by=by)
    return booking


def _credit_for_late_instructor_cancellation(booking: Booking, *, by: User) -> None:
    """An instructor who cancels within the free-cancellation time owes the student credit."""
    amount = settings.BOOKINGS_INSTRUCTOR_LATE_CANCELLATION_CREDIT_CENTS
    late = booking.start - timezone.now() < timedelta(
        hours=settings.BOOKINGS_FREE_CANCELLATION_HOURS
    )
    if by.pk == booking.instructor_id and late and amount > 0:
        credit_grant(
            user_id=booking.student_id,
            currency=booking.currency,
            amount_cents=amount,
            reason=CreditReason.INSTRUCTOR_CANCELLED,
            reference=f"booking-{booking.pk}",
            actor=by,
        )


def booking_reschedule(*, user: User, booking_id: int, start: datetime) -> Booking:
    """Move a holding booking to another free slot: release and hold in one transaction."""
    booking = booking_get(user=user, booking_id=booking_id)
    with transaction.atomic():
        _lock_instructor(booking.instructor_id)
        booking = Booking.objects.select_for_update().select_related("service").get(pk=booking.pk)
        if booking.status not in HOLDING_STATUSES:
            raise Conflict(f"A {booking.status} booking cannot be rescheduled.")
        if booking.start <= timezone.now():
            raise Conflict("The lesson has already started.")
        service = _as_booked(booking)
        if service.instructor_id != booking.instructor_id:
            raise not_a_free_slot()
        require_free_slot(service=service, start=start, ignore_booking_id=booking.pk)
        end = start + timedelta(minutes=service.duration_minutes)
        if _student_is_busy(booking.student, start, end, ignore_id=booking.pk):
            raise Conflict("The student already has a lesson at this time.")
        old_start, old_end = booking.hold_start, booking.hold_end
        try:
            with transaction.atomic():
                moved = booking_swap(
                    booking.pk,
                    when=HOLDING,
                    **_lesson_times(service, start),
                    reminder_24h_sent_at=None,
                    reminder_1h_sent_at=None,
                )
        except IntegrityError:
            raise not_a_free_slot() from None
        if not moved:
            raise Conflict("The booking changed meanwhile; try again.")
        booking = booking_reload(booking.pk)
        if booking.payment_id is not None:
            payment_reschedule(payment_id=booking.payment_id, capture_after=booking.start)
        booking_event(booking, "booking.rescheduled", actor_id=user.pk)
        availability_changed(
            instructor_id=booking.instructor_id, start=old_start, end=old_end, reason="rescheduled"
        )
        held_time_changed(booking, "booked")
    return booking


def booking_expire(*, booking_id: int) -> bool:
    """A payment hold older than the limit frees its time. Safe to run twice.

    The payment is re-read from the provider first: a student who paid just now (its
    webhook late) is confirmed instead. A provider that cannot answer leaves the hold
    for the next run.
    """
    booking = booking_reload(booking_id)
    if booking.payment is not None and booking.payment.status == PaymentState.REQUIRES_PAYMENT:
        try:
            payment_sync(payment_id=booking.payment.pk)
        except PaymentError as error:
            logger.warning("Could not re-check payment of booking %s: %s", booking_id, error)
            return False
    expired = booking_transition(
        booking_id,
        when=payment_hold_lapsed(now=timezone.now()),
        event_type="booking.expired",
        held_time_reason="expired",
        status=BookingStatus.EXPIRED,
    )
    return expired is not None


def booking_complete(*, booking_id: int) -> bool:
    """A confirmed lesson whose own end time has passed is completed. Safe to run twice."""
    completed = booking_transition(
        booking_id,
        when=lesson_ended(now=timezone.now()),
        event_type="booking.completed",
        status=BookingStatus.COMPLETED,
    )
    return completed is not None


def booking_mark_no_show(*, user: User, booking_id: int) -> Booking:
    """The instructor reports that the student did not come: after the start, within grace."""
    booking = booking_get(user=user, booking_id=booking_id)
    if booking.instructor_id != user.pk:
        raise Forbidden("Only the instructor can mark a no-show.")
    now = timezone.now()
    grace = timedelta(hours=settings.BOOKINGS_NO_SHOW_GRACE_HOURS)
    marked = booking_transition(
        booking.pk,
        when=Q(status__in=(BookingStatus.CONFIRMED, BookingStatus.COMPLETED))
        & Q(start__lte=now, end__gte=now - grace),
        event_type="booking.no_show",
        status=BookingStatus.NO_SHOW,
    )
    if marked is None:
        current = booking_reload(booking.pk)
        if current.start > now:
            raise Conflict("The lesson has not started yet.")
        raise Conflict(f"A {current.status} booking cannot be marked as a no-show now.")
    return marked
