"""Every write of the bookings app; transports and tasks call only these."""

from bookings.services.catalog import (
    availability_override_delete,
    availability_override_set,
    availability_replace,
    instructor_profile_ensure,
    instructor_profile_update,
    service_create,
    service_retire,
    service_update,
)
from bookings.services.erasure import (
    bookings_cancel_future,
    bookings_scrub,
    instructor_services_retire,
)
from bookings.services.lifecycle import (
    booking_cancel,
    booking_cancel_by_staff,
    booking_complete,
    booking_create,
    booking_expire,
    booking_mark_no_show,
    booking_payment_authorise,
    booking_reschedule,
)
from bookings.services.reminders import reminders_send
from bookings.services.transitions import booking_payment_settle

__all__ = [
    "availability_override_delete",
    "availability_override_set",
    "availability_replace",
    "booking_cancel",
    "booking_cancel_by_staff",
    "booking_complete",
    "booking_create",
    "booking_expire",
    "booking_mark_no_show",
    "booking_payment_authorise",
    "booking_payment_settle",
    "booking_reschedule",
    "bookings_cancel_future",
    "bookings_scrub",
    "instructor_profile_ensure",
    "instructor_profile_update",
    "instructor_services_retire",
    "reminders_send",
    "service_create",
    "service_retire",
    "service_update",
]
