"""Reads: instructors with their services, free slots, a user's bookings, and what is due.

The rules of when a booking is due for a change (a lapsed payment hold, an ended
lesson, an unsettled payment) are written here once: the periodic jobs find rows
with them, and the services guard their compare-and-swap with the same ones.
"""

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import Role, User
from bookings.models import (
    HOLDING_STATUSES,
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    BookingStatus,
    InstructorProfile,
    Service,
)
from bookings.shapes import availability_data, booking_data, service_data
from conventions.errors import Conflict, Invalid, NotFound
from conventions.pagination import moment_page
from conventions.times import iso_z
from conventions.timezones import is_valid_timezone

MAX_SLOT_RANGE_DAYS = 366


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def local_to_utc(moment: datetime, zone: ZoneInfo) -> datetime | None:
    """A wall-clock time in `zone` as UTC; None when the clocks skip it (spring forward).

    An ambiguous time (fall back) is taken once, at its first occurrence (fold=0).
    """
    aware = moment.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != moment:
        return None
    return utc


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which a local date begins and the next one begins."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def _windows_by_day(
    instructor_id: int, first: date, last: date
) -> tuple[dict[int, list[tuple[time, time]]], dict[date, list[tuple[time, time]]]]:
    weekly: dict[int, list[tuple[time, time]]] = {}
    for rule in AvailabilityRule.objects.filter(instructor_id=instructor_id):
        weekly.setdefault(rule.weekday, []).append((rule.start_time, rule.end_time))
    overrides = {
        o.date: [(parse_hhmm(i["start"]), parse_hhmm(i["end"])) for i in o.intervals]
        for o in AvailabilityOverride.objects.filter(
            instructor_id=instructor_id, date__gte=first, date__lte=last
        )
    }
    return weekly, overrides


def _held_intervals(
    instructor_id: int, start: datetime, end: datetime, ignore_booking_id: int | None
) -> tuple[list[datetime], list[datetime]]:
    """Held time overlapping [start, end), as sorted starts and ends (holds never overlap)."""
    holds = Booking.objects.filter(
        instructor_id=instructor_id,
        status__in=HOLDING_STATUSES,
        hold_start__lt=end,
        hold_end__gt=start,
    )
    if ignore_booking_id is not None:
        holds = holds.exclude(pk=ignore_booking_id)
    rows = sorted(holds.values_list("hold_start", "hold_end"))
    return [r[0] for r in rows], [r[1] for r in rows]


def bookable_between(service: Service, *, now: datetime) -> tuple[datetime, datetime]:
    """The earliest start the service takes now (minimum notice) and the first one too late
    (booking window)."""
    return (
        now + timedelta(minutes=service.min_notice_minutes),
        now + timedelta(days=service.booking_window_days),
    )


def free_slots(
    *,
    service: Service,
    range_start: datetime,
    range_end: datetime,
    now: datetime | None = None,
    ignore_booking_id: int | None = None,
) -> list[Slot]:
    """Free start times of `service` in [range_start, range_end), ascending.

    Windows are expanded per local date of the instructor's zone, so a slot keeps
    its wall-clock time across DST changes. Minimum notice, the booking window and
    time held by other bookings (widened by buffers on both sides) are removed.
    """
    now = now or timezone.now()
    bookable_from, bookable_until = bookable_between(service, now=now)
    earliest = max(range_start, bookable_from)
    latest = min(range_end, bookable_until)
    if earliest >= latest:
        return []
    profile = service.instructor
    zone = ZoneInfo(profile.timezone)
    first_day = earliest.astimezone(zone).date() - timedelta(days=1)
    last_day = latest.astimezone(zone).date()
    weekly, overrides = _windows_by_day(profile.pk, first_day, last_day)
    duration = timedelta(minutes=service.duration_minutes)
    step = timedelta(minutes=service.slot_step_minutes)
    before = timedelta(minutes=service.buffer_before_minutes)
    after = timedelta(minutes=service.buffer_after_minutes)
    hold_starts, hold_ends = _held_intervals(
        profile.pk, earliest - before - duration, latest + duration + after, ignore_booking_id
    )

    slots: list[Slot] = []
    day = first_day
    while day <= last_day:
        windows = overrides[day] if day in overrides else weekly.get(day.weekday(), [])
        for window_start, window_end in windows:
            local = datetime.combine(day, window_start)
            local_end = datetime.combine(day, window_end)
            while local + duration <= local_end:
                start = local_to_utc(local, zone)
                local += step
                if start is None or not earliest <= start < latest:
                    continue
                end = start + duration
                # The last hold starting before our held time ends must end before it begins.
                i = bisect.bisect_left(hold_starts, end + after)
                if i and hold_ends[i - 1] > start - before:
                    continue
                slots.append(Slot(start, end))
        day += timedelta(days=1)
    slots.sort(key=lambda s: s.start)
    return slots


def is_free_slot(
    *,
    service: Service,
    start: datetime,
    now: datetime | None = None,
    ignore_booking_id: int | None = None,
) -> bool:
    found = free_slots(
        service=service,
        range_start=start,
        range_end=start + timedelta(microseconds=1),
        now=now,
        ignore_booking_id=ignore_booking_id,
    )
    return bool(found) and found[0].start == start


def _in_words(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if rest or not hours:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def not_a_free_slot() -> Conflict:
    """The refusal of a start that is simply not free: taken, or outside the hours."""
    return Conflict(
        "This time is not a free slot of the service.",
        details={"start": "not a free slot", "reason": "not_free"},
    )


def require_free_slot(
    *, service: Service, start: datetime, ignore_booking_id: int | None = None
) -> None:
    """Refuse (409) a start that is not a free slot, saying why when the clock is the reason:
    in the past, inside the minimum notice, or beyond the booking window."""
    now = timezone.now()
    earliest, too_late = bookable_between(service, now=now)
    if start < now:
        raise Conflict(
            "This time is in the past.",
            details={"start": "in the past", "reason": "past", "earliest": iso_z(earliest)},
        )
    if start < earliest:
        notice = service.min_notice_minutes
        raise Conflict(
            f"This service is booked at least {_in_words(notice)} ahead; "
            f"the earliest start now is {iso_z(earliest)}.",
            details={
                "start": "inside the minimum notice",
                "reason": "min_notice",
                "min_notice_minutes": notice,
                "earliest": iso_z(earliest),
            },
        )
    if start >= too_late:
        days = service.booking_window_days
        raise Conflict(
            f"This service is booked at most {days} day{'s' if days != 1 else ''} ahead; "
            f"starts from {iso_z(too_late)} on are too late.",
            details={
                "start": "beyond the booking window",
                "reason": "booking_window",
                "booking_window_days": days,
                "window_ends": iso_z(too_late),
            },
        )
    if not is_free_slot(service=service, start=start, now=now, ignore_booking_id=ignore_booking_id):
        raise not_a_free_slot()


def slots_between_dates(
    *, instructor_id: int, service_id: int, start: date, end: date, tz: str
) -> list[Slot]:
    """Free slots for the caller's local dates `start`..`end` (both included) in `tz`."""
    if not is_valid_timezone(tz):
        raise Invalid("Unknown time zone.", details={"tz": "unknown time zone"})
    if end < start:
        raise Invalid("`end` is before `start`.", details={"end": "before start"})
    if (end - start).days >= MAX_SLOT_RANGE_DAYS:
        raise Invalid(
            f"Ask for at most {MAX_SLOT_RANGE_DAYS} days.", details={"end": "range too long"}
        )
    service = (
        Service.objects.select_related("instructor")
        .filter(pk=service_id, instructor_id=instructor_id, is_active=True)
        .first()
    )
    if service is None:
        raise NotFound("No such service for this instructor.")
    zone = ZoneInfo(tz)
    range_start, _ = local_day_bounds(start, zone)
    _, range_end = local_day_bounds(end, zone)
    return free_slots(service=service, range_start=range_start, range_end=range_end)


def instructors_with_services() -> QuerySet[User]:
    """Active instructors by id, with their active services prefetched."""
    services = Service.objects.filter(is_active=True).order_by("id")
    return (
        User.objects.filter(role=Role.INSTRUCTOR, is_active=True)
        .select_related("instructor_profile", "payout_account")
        .prefetch_related(Prefetch("instructor_profile__services", queryset=services))
        .order_by("id")
    )


def instructor_get(*, instructor_id: int) -> User:
    instructor = instructors_with_services().filter(pk=instructor_id).first()
    if instructor is None:
        raise NotFound("No such instructor.")
    return instructor


def _bookings_of(user: User) -> QuerySet[Booking]:
    return Booking.objects.select_related("student", "instructor__user", "service").filter(
        Q(student=user) | Q(instructor_id=user.pk)
    )


def booking_get(*, user: User, booking_id: int) -> Booking:
    """A booking the user takes part in; anyone else's is simply not found."""
    booking = _bookings_of(user).filter(pk=booking_id).first()
    if booking is None:
        raise NotFound("No such booking.")
    return booking


def booking_list(
    *, user: User, status: str | None, cursor: str | None, limit: int
) -> tuple[list[Booking], str | None]:
    """The user's bookings by start time, oldest first, optionally of one status."""
    bookings = _bookings_of(user)
    if status:
        if status not in BookingStatus.values:
            raise Invalid("Unknown status.", details={"status": "unknown"})
        bookings = bookings.filter(status=status)
    return moment_page(bookings, cursor=cursor, limit=limit, moment="start", newest_first=False)


def bookings_export(*, user: User) -> list[dict[str, Any]]:
    """Every booking the person takes part in, as REST shows it to them, for their data
    export: without the payment's client secret (a key to pay, not data about them)."""
    items = []
    for booking in _bookings_of(user).select_related("payment").order_by("start", "pk"):
        data = booking_data(booking, viewer_id=user.pk)
        data["payment"].pop("client_secret", None)
        items.append(data)
    return items


def instructor_export(*, user: User) -> dict[str, Any] | None:
    """An instructor's profile, address, services (retired ones too) and hours; None for
    anyone without a profile."""
    profile = InstructorProfile.objects.filter(user=user).first()
    if profile is None:
        return None
    return {
        "bio": profile.bio,
        "address": profile.address,
        "services": [
            {**service_data(s), "active": s.is_active} for s in profile.services.order_by("pk")
        ],
        "availability": availability_data(profile),
    }
