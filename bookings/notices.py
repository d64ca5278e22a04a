"""What a booking's change tells the people it concerns when they come back: a kept
notification, and the e-mail they chose to get for that kind (docs/notifications.md).

Called in the transaction of the change, so a rolled-back change notifies nobody.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from accounts.models import User
from bookings.models import Booking
from conventions.times import iso_z
from notifications.models import Kind
from notifications.services import Email, notification_create

KINDS = {
    "booking.confirmed": Kind.BOOKING_CONFIRMED,
    "booking.cancelled": Kind.BOOKING_CANCELLED,
    "booking.rescheduled": Kind.BOOKING_RESCHEDULED,
    "booking.expired": Kind.BOOKING_EXPIRED,
}


def local_time(moment: datetime, user: User) -> str:
    """A time as its reader lives it: their own zone, spelled out."""
    return moment.astimezone(ZoneInfo(user.timezone)).strftime("%A %d %B %Y at %H:%M (%Z)")


def _other(booking: Booking, user: User) -> User:
    return booking.instructor.user if user.pk == booking.student_id else booking.student


def notice_data(booking: Booking, user: User, **extra: object) -> dict:
    """What a booking notification shows `user`: the lesson and the other person."""
    other = _other(booking, user)
    return {
        "booking_id": booking.pk,
        "status": booking.status,
        "service": booking.service.name,
        "start": iso_z(booking.start),
        "end": iso_z(booking.end),
        "with": {"id": other.pk, "name": other.name},
        **extra,
    }


def _recipients(booking: Booking, event_type: str, actor_id: int | None) -> list[User]:
    """The other side of whoever made the change; both when the system made it (a
    payment confirmed it, support cancelled it); only the student when it expired."""
    if event_type == "booking.expired":
        return [booking.student]
    if event_type == "booking.cancelled":
        if booking.cancelled_by_id is None and booking.cancel_reason == "payment_failed":
            return [booking.instructor.user]  # the student hears of it as payment_failed
        actor_id = booking.cancelled_by_id
    return [user for user in (booking.student, booking.instructor.user) if user.pk != actor_id]


def _email(booking: Booking, event_type: str, user: User) -> Email:
    other, service = _other(booking, user).name, booking.service.name
    when = local_time(booking.start, user)
    greeting = f"Hello {user.name},\n\n"
    closing = f"\n\nBooking {booking.pk}."
    if event_type == "booking.confirmed":
        if user.pk == booking.student_id:
            subject = f"Booked: {service} with {other} on {when}"
            text = f"your {service} lesson with {other} on {when} is confirmed."
        else:
            subject = f"New lesson: {service} with {other} on {when}"
            text = f"{other} booked a {service} lesson with you on {when}."
    elif event_type == "booking.cancelled":
        subject = f"Cancelled: {service} on {when}"
        reason = f" Reason given: {booking.cancel_reason}" if booking.cancel_reason else ""
        text = f"your {service} lesson with {other} on {when} was cancelled.{reason}"
    elif event_type == "booking.rescheduled":
        subject = f"Moved: {service} with {other}, now on {when}"
        text = f"your {service} lesson with {other} was moved to {when}."
    else:
        subject = f"Not booked: {service} on {when}"
        text = (
            f"your {service} lesson with {other} on {when} was not paid in time, so the "
            "booking expired and its time is free again."
        )
    return Email(subject=subject, body=greeting + text + closing)


def booking_notify(booking: Booking, event_type: str, *, actor_id: int | None = None) -> None:
    """The notification (and e-mail) a booking event calls for, if any."""
    kind = KINDS.get(event_type)
    if kind is None:
        return
    for user in _recipients(booking, event_type, actor_id):
        extra = {"reason": booking.cancel_reason} if event_type == "booking.cancelled" else {}
        notification_create(
            user=user,
            kind=kind,
            data=notice_data(booking, user, **extra),
            email=_email(booking, event_type, user),
        )


def payment_failed_notify(booking: Booking) -> None:
    """The student must act: a refused card (the booking is cancelled) or a refused saved
    card (pay by `pay_by`, or the booking expires)."""
    student, payment = booking.student, booking.payment
    service, other = booking.service.name, booking.instructor.user.name
    pay_by = payment.pay_by if payment is not None and booking.status != "cancelled" else None
    if pay_by is not None:
        deadline = local_time(pay_by, student)
        subject = f"Please pay for your {service} lesson"
        text = (
            f"your saved card was refused for your {service} lesson with {other}. Please "
            f"pay by {deadline} or the booking expires and its time is freed."
        )
        key = f"pay-by-{payment.reference}-{pay_by:%Y%m%d%H%M}" if payment else ""
    else:
        subject = f"Payment refused: {service} with {other}"
        text = f"the payment for your {service} lesson with {other} did not go through."
        key = ""
    notification_create(
        user=student,
        kind=Kind.PAYMENT_FAILED,
        data=notice_data(booking, student, pay_by=iso_z(pay_by) if pay_by else None),
        email=Email(
            subject=subject,
            body=f"Hello {student.name},\n\n{text}\n\nBooking {booking.pk}.",
            key=key,
        ),
    )


# Every kind whose data names the other person (`with`, from `notice_data`).
NOTICE_KINDS = (*KINDS.values(), Kind.PAYMENT_FAILED)


def notice_data_erased(data: dict, *, user_id: int, name: str, kept_reason: str) -> dict:
    """A kept notice once the person it is `with` is erased: their new name, and no reason
    they wrote (`kept_reason`, the erasure's own, stays)."""
    data = {**data, "with": {"id": user_id, "name": name}}
    if data.get("reason") and data["reason"] != kept_reason:
        data["reason"] = ""
    return data
