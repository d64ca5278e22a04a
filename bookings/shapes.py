"""Bookings as the outside world sees them: the objects REST answers with and events carry.

One module, so that an event's data is the resource exactly as REST returns it.
It only reads what it is given: no queries, and nothing of ours imports back.
"""

from datetime import datetime

from bookings.models import (
    AvailabilityOverride,
    Booking,
    InstructorProfile,
    LocationType,
    Service,
)
from conventions.times import iso_z


def service_data(service: Service) -> dict:
    return {
        "id": service.pk,
        "name": service.name,
        "duration_minutes": service.duration_minutes,
        "price_cents": service.price_cents,
        "currency": service.currency,
        "location_types": service.location_type_list,
        "buffer_before_minutes": service.buffer_before_minutes,
        "buffer_after_minutes": service.buffer_after_minutes,
        "min_notice_minutes": service.min_notice_minutes,
        "booking_window_days": service.booking_window_days,
        "slot_interval_minutes": service.slot_interval_minutes,
    }


def instructor_data(user) -> dict:
    """An instructor with the active services and payout account the selector fetched
    (none without a profile); only whether payouts are ready is shown, never the account."""
    profile = getattr(user, "instructor_profile", None)
    payout_account = getattr(user, "payout_account", None)
    return {
        "id": user.pk,
        "name": user.name,
        "bio": profile.bio if profile else "",
        "timezone": profile.timezone if profile else user.timezone,
        "services": [service_data(s) for s in profile.services.all()] if profile else [],
        "payouts_ready": bool(payout_account and payout_account.ready),
    }


def availability_data(profile: InstructorProfile) -> dict:
    return {
        "timezone": profile.timezone,
        "rules": [
            {
                "weekday": r.weekday,
                "start": r.start_time.strftime("%H:%M"),
                "end": r.end_time.strftime("%H:%M"),
            }
            for r in profile.availability_rules.all()
        ],
    }


def override_data(override: AvailabilityOverride) -> dict:
    return {"date": override.date.isoformat(), "intervals": override.intervals}


def slot_data(*, start: datetime, end: datetime) -> dict:
    return {"start": iso_z(start), "end": iso_z(end)}


def booking_data(booking: Booking, *, viewer_id: int) -> dict:
    """The booking as `viewer_id` sees it: only the student gets the payment's client secret."""
    payment = payment_shape(booking, viewer_id=viewer_id)
    instructor = booking.instructor.user
    return {
        "id": booking.pk,
        "status": booking.status,
        "student": {"id": booking.student_id, "name": booking.student.name},
        "instructor": {"id": instructor.pk, "name": instructor.name},
        "service": {
            "id": booking.service_id,
            "name": booking.service.name,
            # The lesson's own length: the service's may have changed since it was booked.
            "duration_minutes": int((booking.end - booking.start).total_seconds() // 60),
        },
        "start": iso_z(booking.start),
        "end": iso_z(booking.end),
        "location_type": booking.location_type,
        "place": place_data(booking),
        "note": booking.note,
        "price_cents": booking.price_cents,
        "currency": booking.currency,
        "payment": payment,
        "cancelled_by": booking.cancelled_by_id,
        "cancel_reason": booking.cancel_reason,
        "created_at": iso_z(booking.created_at),
        "updated_at": iso_z(booking.updated_at),
    }


def booking_data_erased(data: dict, *, user_id: int, name: str, kept_reason: str = "") -> dict:
    """A stored booking object once `user_id` (one of its two people) is erased: their new
    name, and no note, place or cancel reason of theirs (`kept_reason`, the erasure's own
    reason for cancelling, stays)."""
    data = {**data}
    side = "student" if data["student"]["id"] == user_id else "instructor"
    data[side] = {**data[side], "name": name}
    place = data.get("place")
    if side == "student":
        data["note"] = ""
    if place and (side == "student" or place["kind"] == LocationType.INSTRUCTOR_LOCATION):
        data["place"] = {**place, "text": ""}
    if data.get("cancelled_by") == user_id and data.get("cancel_reason") != kept_reason:
        data["cancel_reason"] = ""
    return data


def place_data(booking: Booking) -> dict | None:
    """Where the lesson happens; null online. Only ever in a booking, seen by its two people."""
    if booking.location_type == LocationType.ONLINE:
        return None
    return {"kind": booking.location_type, "text": booking.place}


def instructor_own_data(user) -> dict:
    """The instructor's profile as they see it themselves: with their address."""
    profile = getattr(user, "instructor_profile", None)
    return instructor_data(user) | {"address": profile.address if profile else ""}


def payment_shape(booking: Booking, *, viewer_id: int) -> dict:
    """The booking's `payment` object: where its money stands, and what is left to do."""
    paid = booking.payment
    if paid is None:
        return {"status": "requires_payment", "client_secret": None}
    secret = paid.client_secret if viewer_id == booking.student_id else ""
    return {
        "status": paid.status,
        "client_secret": secret or None,
        "amount_cents": paid.amount_cents,
        "credit_cents": paid.credit_cents,
        "captured_cents": paid.captured_cents,
        "refunded_cents": paid.refunded_cents,
        "pay_by": iso_z(paid.pay_by) if paid.pay_by else None,
    }


def payment_data(booking: Booking, *, viewer_id: int) -> dict:
    """What `payment.*` events carry: the booking's payment object, as that viewer sees it."""
    return {
        "booking_id": booking.pk,
        "payment": booking_data(booking, viewer_id=viewer_id)["payment"],
    }


def availability_change_data(
    *, instructor_id: int, start: datetime, end: datetime, reason: str
) -> dict:
    """The UTC interval whose slots may have changed, and why."""
    return {
        "instructor_id": instructor_id,
        "start": iso_z(start),
        "end": iso_z(end),
        "reason": reason,
    }
