"""The live events of bookings: each carries a shape from `bookings.shapes`.

Called by services inside their transaction, after the change, so the data is the
resource as REST returns it once that transaction commits.
"""

from collections.abc import Iterable
from datetime import datetime

from bookings.models import Booking
from bookings.notices import booking_notify
from bookings.shapes import (
    availability_change_data,
    booking_data,
    booking_data_erased,
    payment_data,
)
from hub.services import publish, stored_events_rewrite
from hub.topics import user_topic

BOOKING_EVENTS = (
    "booking.created",
    "booking.confirmed",
    "booking.cancelled",
    "booking.rescheduled",
    "booking.expired",
    "booking.completed",
    "booking.no_show",
)


def availability_topic(instructor_id: int) -> str:
    return f"availability:{instructor_id}"


def booking_event(booking: Booking, event_type: str, *, actor_id: int | None = None) -> None:
    """`booking.*` to both participants' user topics, in the caller's transaction, and
    the notifications it calls for (`actor_id`: who made the change, when not recorded)."""
    for user_id in (booking.student_id, booking.instructor_id):
        publish(
            topic=user_topic(user_id),
            event_type=event_type,
            data=booking_data(booking, viewer_id=user_id),
        )
    booking_notify(booking, event_type, actor_id=actor_id)


def payment_event(booking: Booking, event_type: str) -> None:
    for user_id in (booking.student_id, booking.instructor_id):
        publish(
            topic=user_topic(user_id),
            event_type=event_type,
            data=payment_data(booking, viewer_id=user_id),
        )


def availability_changed(*, instructor_id: int, start: datetime, end: datetime, reason: str):
    """Tell calendar views which UTC interval's slots may have changed."""
    data = availability_change_data(
        instructor_id=instructor_id, start=start, end=end, reason=reason
    )
    publish(topic=availability_topic(instructor_id), event_type="availability.changed", data=data)


def booking_history_erase(
    *, user_id: int, name: str, kept_reason: str, counterpart_ids: Iterable[int]
) -> None:
    """After a person's erasure, the booking events stored on the topics of the people they
    had lessons with keep nothing of them (see `booking_data_erased`)."""

    def erased(data: dict) -> dict:
        return booking_data_erased(data, user_id=user_id, name=name, kept_reason=kept_reason)

    for counterpart_id in counterpart_ids:
        for side in ("student", "instructor"):
            stored_events_rewrite(
                topic=user_topic(counterpart_id),
                event_types=BOOKING_EVENTS,
                where={f"{side}__id": user_id},
                rewrite=erased,
            )
