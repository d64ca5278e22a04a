"""Writes for instructor profiles, services and availability."""

from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Role, User
from bookings.events import availability_changed
from bookings.models import (
    LOCATION_SET_KEYS,
    PLACE_MAX_LENGTH,
    AvailabilityOverride,
    AvailabilityRule,
    InstructorProfile,
    Service,
    location_set_key,
)
from bookings.selectors import local_day_bounds
from conventions.errors import Forbidden, Invalid, NotFound
from conventions.text import text_clean
from conventions.timezones import is_valid_timezone

Interval = tuple[time, time]


def instructor_profile_ensure(*, user: User) -> InstructorProfile:
    """Every instructor has a profile; it is made on first need, in the user's zone."""
    if user.role != Role.INSTRUCTOR:
        raise Forbidden("Only instructors have an instructor profile.")
    profile, _ = InstructorProfile.objects.get_or_create(
        user=user, defaults={"timezone": user.timezone}
    )
    return profile


def instructor_profile_update(
    *, user: User, bio: str | None = None, address: str | None = None
) -> InstructorProfile:
    """Change the bio and/or the address (`None`: unchanged). The address reaches only
    bookings made after the change."""
    profile = instructor_profile_ensure(user=user)
    changed = []
    if bio is not None:
        profile.bio = text_clean(bio, field="bio", multi_line=True, max_length=5000)
        changed.append("bio")
    if address is not None:
        profile.address = text_clean(address, field="address", max_length=PLACE_MAX_LENGTH)
        changed.append("address")
    if changed:
        profile.save(update_fields=changed)
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
    slot_interval_minutes: int | None = None,
) -> Service:
    name = text_clean(name, field="name", max_length=120)
    if not name:
        raise Invalid("A service needs a name.", details={"name": "may not be blank"})
    profile = instructor_profile_ensure(user=instructor)
    key = location_set_key(location_types)
    if key not in LOCATION_SET_KEYS:
        raise Invalid("Unknown location types.", details={"location_types": "invalid"})
    service = Service.objects.create(
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
        slot_interval_minutes=slot_interval_minutes,
    )
    _announce_all_future(profile, reason="service")
    return service


def _check_intervals(intervals: list[Interval], field: str) -> list[Interval]:
    """Each interval must start before it ends, and no two may overlap."""
    ordered = sorted(intervals)
    for index, (start, end) in enumerate(ordered):
        if start >= end:
            raise Invalid("An interval must start before it ends.", details={field: "start >= end"})
        if index and ordered[index - 1][1] > start:
            raise Invalid("Intervals overlap.", details={field: "overlapping intervals"})
    return ordered


def _announce_all_future(profile: InstructorProfile, *, reason: str) -> None:
    """Rules or zone changed: every bookable slot may have moved."""
    now = timezone.now()
    window = profile.services.filter(is_active=True).aggregate(days=Max("booking_window_days"))
    days = window["days"] or 60
    availability_changed(
        instructor_id=profile.pk, start=now, end=now + timedelta(days=days), reason=reason
    )


@transaction.atomic
def availability_replace(
    *, instructor: User, timezone: str, rules: list[tuple[int, time, time]]
) -> list[AvailabilityRule]:
    """Replace the weekly rules whole, in the given IANA zone."""
    if not is_valid_timezone(timezone):
        raise Invalid("Unknown time zone.", details={"timezone": "unknown"})
    for weekday in range(7):
        _check_intervals([(s, e) for d, s, e in rules if d == weekday], "rules")
    if any(not 0 <= day <= 6 for day, _, _ in rules):
        raise Invalid("A weekday is 0 (Monday) to 6 (Sunday).", details={"rules": "weekday"})
    profile = instructor_profile_ensure(user=instructor)
    profile = InstructorProfile.objects.select_for_update().get(pk=profile.pk)
    profile.timezone = timezone
    profile.save(update_fields=["timezone"])
    profile.availability_rules.all().delete()
    created = AvailabilityRule.objects.bulk_create(
        AvailabilityRule(instructor=profile, weekday=day, start_time=start, end_time=end)
        for day, start, end in sorted(rules)
    )
    _announce_all_future(profile, reason="rules")
    return created


@transaction.atomic
def availability_override_set(
    *, instructor: User, day: date, intervals: list[Interval]
) -> AvailabilityOverride:
    """Other hours on one local date; an empty list makes it a day off."""
    ordered = _check_intervals(intervals, "intervals")
    profile = instructor_profile_ensure(user=instructor)
    profile = InstructorProfile.objects.select_for_update().get(pk=profile.pk)
    override, _ = AvailabilityOverride.objects.update_or_create(
        instructor=profile,
        date=day,
        defaults={
            "intervals": [
                {"start": s.strftime("%H:%M"), "end": e.strftime("%H:%M")} for s, e in ordered
            ]
        },
    )
    start, end = local_day_bounds(day, ZoneInfo(profile.timezone))
    availability_changed(instructor_id=profile.pk, start=start, end=end, reason="override")
    return override


@transaction.atomic
def availability_override_delete(*, instructor: User, day: date) -> None:
    """Back to the weekly rules on that date; deleting a missing override is a no-op."""
    profile = instructor_profile_ensure(user=instructor)
    deleted, _ = AvailabilityOverride.objects.filter(instructor=profile, date=day).delete()
    if deleted:
        start, end = local_day_bounds(day, ZoneInfo(profile.timezone))
        availability_changed(instructor_id=profile.pk, start=start, end=end, reason="override")


SERVICE_TERMS = (
    "name",
    "duration_minutes",
    "price_cents",
    "currency",
    "location_types",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "min_notice_minutes",
    "booking_window_days",
    "slot_interval_minutes",
)


def _own_service(instructor: User, service_id: int) -> Service:
    """The caller's active service, locked; anyone else's answers like a missing one."""
    profile = instructor_profile_ensure(user=instructor)
    service = (
        Service.objects.select_for_update()
        .filter(pk=service_id, instructor=profile, is_active=True)
        .first()
    )
    if service is None:
        raise NotFound("No such service.")
    return service


def _announce_service(service: Service, *, old_window_days: int, reason: str) -> None:
    """Slots of this service may have moved anywhere in the longer of its old and new windows."""
    now = timezone.now()
    days = max(old_window_days, service.booking_window_days)
    end = now + timedelta(days=days)
    availability_changed(instructor_id=service.instructor_id, start=now, end=end, reason=reason)


@transaction.atomic
def service_update(*, instructor: User, service_id: int, **changes: Any) -> Service:
    """Change some terms of a service. Bookings already made keep theirs: they copied the
    price and currency, and their own start and end."""
    unknown = set(changes) - set(SERVICE_TERMS)
    if unknown:
        raise Invalid("Unknown service fields.", details=dict.fromkeys(sorted(unknown), "unknown"))
    service = _own_service(instructor, service_id)
    old_window_days = service.booking_window_days
    if "name" in changes:
        changes["name"] = text_clean(changes["name"], field="name", max_length=120)
        if not changes["name"]:
            raise Invalid("A service needs a name.", details={"name": "may not be blank"})
    if "currency" in changes:
        changes["currency"] = changes["currency"].upper()
    if "location_types" in changes:
        changes["location_types"] = location_set_key(changes["location_types"])
        if changes["location_types"] not in LOCATION_SET_KEYS:
            raise Invalid("Unknown location types.", details={"location_types": "invalid"})
    for field, value in changes.items():
        setattr(service, field, value)
    if changes:
        service.save(update_fields=list(changes))
        _announce_service(service, old_window_days=old_window_days, reason="service")
    return service


@transaction.atomic
def service_retire(*, instructor: User, service_id: int) -> None:
    """No longer offered or listed; its bookings stay as they were made."""
    service = _own_service(instructor, service_id)
    service.is_active = False
    service.save(update_fields=["is_active"])
    _announce_service(service, old_window_days=service.booking_window_days, reason="service")
