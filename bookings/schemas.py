"""The REST contract of bookings: input checks and the shapes we answer with."""

import re
from datetime import time

from ninja import Schema
from pydantic import Field, field_validator

from bookings.models import PLACE_MAX_LENGTH, LocationType
from conventions.types import BoundedMoment, ObjectId

HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _hhmm(value: str) -> time:
    if not HHMM.match(value):
        raise ValueError("a time is HH:MM, 00:00 to 23:59")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


class IntervalIn(Schema):
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def valid_time(cls, value: str) -> str:
        _hhmm(value)
        return value

    def as_times(self) -> tuple[time, time]:
        return _hhmm(self.start), _hhmm(self.end)


class RuleIn(IntervalIn):
    weekday: int = Field(ge=0, le=6)


class AvailabilityIn(Schema):
    timezone: str = Field(max_length=64)
    rules: list[RuleIn] = Field(max_length=200)


class OverrideIn(Schema):
    intervals: list[IntervalIn] = Field(max_length=48)


class RuleOut(Schema):
    weekday: int
    start: str
    end: str


class AvailabilityOut(Schema):
    timezone: str
    rules: list[RuleOut]


class OverrideOut(Schema):
    date: str
    intervals: list[dict]


class ProfileIn(Schema):
    """Fields left out stay as they are."""

    bio: str | None = Field(default=None, max_length=5000)
    address: str | None = Field(default=None, max_length=PLACE_MAX_LENGTH)

    @field_validator("bio", "address")
    @classmethod
    def not_null(cls, value):
        if value is None:
            raise ValueError("may not be null")
        return value


class ServiceIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    duration_minutes: int = Field(ge=5, le=720)
    price_cents: int = Field(ge=0, le=100_000_000)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    location_types: list[LocationType] = Field(min_length=1, max_length=4)
    buffer_before_minutes: int = Field(default=0, ge=0, le=240)
    buffer_after_minutes: int = Field(default=0, ge=0, le=240)
    min_notice_minutes: int = Field(default=720, ge=0, le=60 * 24 * 90)
    booking_window_days: int = Field(default=60, ge=1, le=365)
    slot_interval_minutes: int | None = Field(default=None, ge=5, le=720)


class ServicePatchIn(Schema):
    """Any terms of a service; fields left out stay as they are, and only
    `slot_interval_minutes` may be null (slots then start every duration)."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    duration_minutes: int | None = Field(default=None, ge=5, le=720)
    price_cents: int | None = Field(default=None, ge=0, le=100_000_000)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    location_types: list[LocationType] | None = Field(default=None, min_length=1, max_length=4)
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=240)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=240)
    min_notice_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 90)
    booking_window_days: int | None = Field(default=None, ge=1, le=365)
    slot_interval_minutes: int | None = Field(default=None, ge=5, le=720)

    @field_validator(
        "name",
        "duration_minutes",
        "price_cents",
        "currency",
        "location_types",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "min_notice_minutes",
        "booking_window_days",
    )
    @classmethod
    def not_null(cls, value):
        if value is None:
            raise ValueError("may not be null")
        return value


class ServiceOut(Schema):
    id: int
    name: str
    duration_minutes: int
    price_cents: int
    currency: str
    location_types: list[str]
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_notice_minutes: int
    booking_window_days: int
    slot_interval_minutes: int | None


class InstructorOut(Schema):
    id: int
    name: str
    bio: str
    timezone: str
    services: list[ServiceOut]
    payouts_ready: bool  # the instructor's payout account can take charges and pay out


class InstructorOwnOut(InstructorOut):
    address: str  # where `instructor_location` lessons happen; only the instructor sees it


class InstructorPage(Schema):
    items: list[InstructorOut]
    next_cursor: str | None


class SlotOut(Schema):
    start: str
    end: str


class SlotsOut(Schema):
    slots: list[SlotOut]


class BookingCreateIn(Schema):
    service_id: ObjectId
    start: BoundedMoment
    location_type: LocationType
    note: str = Field(default="", max_length=2000)
    # Where it happens: a meeting point for `neutral_location`, the student's address for
    # `student_location`.
    meeting_point: str = Field(default="", max_length=PLACE_MAX_LENGTH)
    address: str = Field(default="", max_length=PLACE_MAX_LENGTH)
    # A Stripe PaymentMethod id the browser made with Stripe.js: confirmed at once.
    payment_method: str | None = Field(
        default=None, min_length=3, max_length=255, pattern=r"^pm_[A-Za-z0-9_]+$"
    )


class CancelIn(Schema):
    reason: str = Field(max_length=500)


class RescheduleIn(Schema):
    start: BoundedMoment


class PersonOut(Schema):
    id: int
    name: str


class BookedServiceOut(Schema):
    id: int
    name: str
    duration_minutes: int


class PaymentOut(Schema):
    status: str
    client_secret: str | None = None  # the student's only: for Stripe.js to finish paying
    amount_cents: int | None = None
    credit_cents: int | None = None  # of the price, covered by platform credit
    captured_cents: int | None = None
    refunded_cents: int | None = None
    pay_by: str | None = None  # after a refused saved card: pay by then or the booking expires


class PlaceOut(Schema):
    kind: str  # the booking's location_type
    text: str  # the address or meeting point; empty when none was given


class BookingOut(Schema):
    id: int
    status: str
    student: PersonOut
    instructor: PersonOut
    service: BookedServiceOut
    start: str
    end: str
    location_type: str
    place: PlaceOut | None  # null online; only the booking's two people ever see a booking
    note: str
    price_cents: int
    currency: str
    payment: PaymentOut
    cancelled_by: int | None
    cancel_reason: str
    created_at: str
    updated_at: str


class BookingPage(Schema):
    items: list[BookingOut]
    next_cursor: str | None
