"""Privacy erasure of bookings: lessons to come are cancelled under the usual money
rules, and what is kept for accounting keeps nothing personal."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts.models import User
from bookings.events import availability_changed, booking_history_erase
from bookings.models import (
    HOLDING_STATUSES,
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    InstructorProfile,
    LocationType,
    Service,
)
from bookings.notices import NOTICE_KINDS, notice_data_erased
from bookings.services.lifecycle import booking_cancel
from conventions.errors import Conflict
from notifications.services import notifications_data_rewrite


@transaction.atomic
def instructor_services_retire(*, user: User) -> int:
    """Nothing of an instructor being erased can be booked any more; `booking_create`
    checks the service again under the same lock. Returns how many were retired."""
    profile = InstructorProfile.objects.select_for_update().filter(user=user).first()
    if profile is None:
        return 0
    offered = profile.services.filter(is_active=True)
    days = offered.aggregate(days=Max("booking_window_days"))["days"]
    retired = Service.objects.filter(pk__in=list(offered.values_list("pk", flat=True))).update(
        is_active=False
    )
    if retired:
        now = timezone.now()
        availability_changed(
            instructor_id=profile.pk, start=now, end=now + timedelta(days=days), reason="service"
        )
    return retired


def bookings_cancel_future(*, user: User, reason: str) -> int:
    """Cancel every lesson of the person that has not started, as if they cancelled it
    themselves, so the usual money rules apply and the other side hears of it.

    Outside any transaction: each cancellation settles its money with the provider
    first. Returns how many were cancelled.
    """
    due = Booking.objects.filter(
        Q(student=user) | Q(instructor_id=user.pk),
        status__in=HOLDING_STATUSES,
        start__gt=timezone.now(),
    ).order_by("start")
    cancelled = 0
    for booking_id in list(due.values_list("pk", flat=True)):
        try:
            booking_cancel(user=user, booking_id=booking_id, reason=reason)
        except Conflict:  # started, or ended otherwise, meanwhile
            continue
        cancelled += 1
    return cancelled


def bookings_scrub(*, user: User, kept_reason: str = "") -> None:
    """Blank what bookings keep of an erased person: the notes and places they gave as a
    student, their address as an instructor, the reasons they wrote (`kept_reason`, the
    erasure's own, stays), their profile and hours; and the same in the booking events and notices
    kept for the people they had lessons with. In the caller's transaction, after the
    user row is scrubbed (its new name is copied)."""
    Booking.objects.filter(student=user).update(note="", place="")
    Booking.objects.filter(
        instructor_id=user.pk, location_type=LocationType.INSTRUCTOR_LOCATION
    ).update(place="")
    Booking.objects.filter(cancelled_by=user).exclude(cancel_reason=kept_reason).update(
        cancel_reason=""
    )
    InstructorProfile.objects.filter(user=user).update(bio="", address="")
    AvailabilityRule.objects.filter(instructor_id=user.pk).delete()
    AvailabilityOverride.objects.filter(instructor_id=user.pk).delete()
    theirs = Booking.objects.filter(Q(student=user) | Q(instructor_id=user.pk))
    counterparts = {
        other
        for pair in theirs.values_list("student_id", "instructor_id").distinct()
        for other in pair
        if other != user.pk
    }
    booking_history_erase(
        user_id=user.pk,
        name=user.name,
        kept_reason=kept_reason,
        counterpart_ids=sorted(counterparts),
    )
    notifications_data_rewrite(
        kinds=NOTICE_KINDS,
        where={"with__id": user.pk},
        rewrite=lambda data: notice_data_erased(
            data, user_id=user.pk, name=user.name, kept_reason=kept_reason
        ),
    )
