"""The booking object as REST returns it, and the live events built from it.

An event's data is the resource exactly as the REST API returns it, so both
transports share `booking_data`.
"""

from datetime import datetime

from bookings.models import Booking
from conventions.times import iso_z
from hub.services import publish
from hub.topics import user_topic


def availability_topic(instructor_id: int) -> str:
    return f"availability:{instructor_id}"


def booking_data(booking: Booking, *, viewer_id: int) -> dict:
    """The booking as `viewer_id` sees it: only the student gets the payment's client secret."""
    secret = booking.payment_client_secret if viewer_id == booking.student_id else ""
    payment = {"status": booking.payment_status, "client_secret": secret or None}
    instructor = booking.instructor.user
    return {
        "id": booking.pk,
        "status": booking.status,
        "student": {"id": booking.student_id, "name": booking.student.name},
        "instructor": {"id": instructor.pk, "name": instructor.name},
        "service": {
            "id": booking.service_id,
            "name": booking.service.name,
            "duration_minutes": booking.service.duration_minutes,
        },
        "start": iso_z(booking.start),
        "end": iso_z(booking.end),
        "location_type": booking.location_type,
        "note": booking.note,
        "price_cents": booking.price_cents,
        "currency": booking.currency,
        "payment": payment,
        "cancelled_by": booking.cancelled_by_id,
        "cancel_reason": booking.cancel_reason,
        "created_at": iso_z(booking.created_at),
        "updated_at": iso_z(booking.updated_at),
    }


def booking_event(booking: Booking, type: str) -> None:
    """`booking.*` to both participants' user topics, in the caller's transaction."""
    for user_id in (booking.student_id, booking.instructor_id):
        publish(
            topic=user_topic(user_id),
            event_type=type,
            data=booking_data(booking, viewer_id=user_id),
        )


def payment_event(booking: Booking, type: str) -> None:
    for user_id in (booking.student_id, booking.instructor_id):
        data = booking_data(booking, viewer_id=user_id)
        publish(
            topic=user_topic(user_id),
            event_type=type,
            data={"booking_id": booking.pk, "payment": data["payment"]},
        )


def availability_changed(*, instructor_id: int, start: datetime, end: datetime, reason: str):
    """Tell calendar views which UTC interval's slots may have changed."""
    publish(
        topic=availability_topic(instructor_id),
        event_type="availability.changed",
        data={
            "instructor_id": instructor_id,
            "start": iso_z(start),
            "end": iso_z(end),
            "reason": reason,
        },
    )
