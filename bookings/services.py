"""Writes for instructor profiles, services and availability."""

from datetime import time

from django.db import transaction

from accounts.errors import Forbidden, Invalid
from accounts.models import Role, User
from accounts.timezones import is_valid_timezone
from bookings.models import (
    LOCATION_SET_KEYS,
    AvailabilityRule,
    InstructorProfile,
    Service,
    location_set_key,
)


def instructor_profile_ensure(*, user: User) -> InstructorProfile:
    """Every instructor has a profile; it is made on first need, in the user's zone."""
    if user.role != Role.INSTRUCTOR:
        raise Forbidden("Only instructors have an instructor profile.")
    profile, _ = InstructorProfile.objects.get_or_create(
        user=user, defaults={"timezone": user.timezone}
    )
    return profile


@transaction.atomic
def service_create(
    *,
    instructor: User,
    name: str,
    duration_minutes: int,
    price_cents: int,
    currency: str,
    location_types: list[str],
    buffer_before_minutes: int = 0,
    buffer_after_minutes: int = 0,
    min_notice_minutes: int = 720,
    booking_window_days: int = 60,
) -> Service:
    profile = instructor_profile_ensure(user=instructor)
    key = location_set_key(location_types)
    if key not in LOCATION_SET_KEYS:
        raise Invalid("Unknown location types.", details={"location_types": "invalid"})
    return Service.objects.create(
        instructor=profile,
        name=name,
        duration_minutes=duration_minutes,
        price_cents=price_cents,
        currency=currency.upper(),
        location_types=key,
        buffer_before_minutes=buffer_before_minutes,
        buffer_after_minutes=buffer_after_minutes,
        min_notice_minutes=min_notice_minutes,
        booking_window_days=booking_window_days,
    )


@transaction.atomic
def availability_replace(
    *, instructor: User, timezone: str, rules: list[tuple[int, time, time]]
) -> list[AvailabilityRule]:
    """Replace the weekly rules whole, in the given IANA zone."""
    if not is_valid_timezone(timezone):
        raise Invalid("Unknown time zone.", details={"timezone": "unknown"})
    profile = instructor_profile_ensure(user=instructor)
    profile.timezone = timezone
    profile.save(update_fields=["timezone"])
    profile.availability_rules.all().delete()
    return AvailabilityRule.objects.bulk_create(
        AvailabilityRule(instructor=profile, weekday=day, start_time=start, end_time=end)
        for day, start, end in rules
    )
