import itertools

from django.conf import settings
from django.db import models


class LocationType(models.TextChoices):
    STUDENT_LOCATION = "student_location", "At the student's place"
    INSTRUCTOR_LOCATION = "instructor_location", "At the instructor's place"
    ONLINE = "online", "Online"
    NEUTRAL_LOCATION = "neutral_location", "Somewhere neutral"


def location_set_key(location_types) -> str:
    """A set of location types as one stored value: sorted, comma-separated."""
    return ",".join(sorted(set(location_types)))


# Every non-empty subset, generated from the enum so the CHECK matches the code exactly.
LOCATION_SET_KEYS = sorted(
    location_set_key(combo)
    for size in range(1, len(LocationType.values) + 1)
    for combo in itertools.combinations(LocationType.values, size)
)


# An address or a meeting point: one line of text.
PLACE_MAX_LENGTH = 300


class InstructorProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="instructor_profile",
    )
    bio = models.TextField(blank=True, default="")
    timezone = models.CharField(max_length=64, default="UTC")
    # Where `instructor_location` lessons happen: shown only on those bookings, to their two
    # people (copied onto each booking when it is made).
    address = models.CharField(max_length=PLACE_MAX_LENGTH, blank=True, default="")

    def __str__(self) -> str:
        return f"Instructor {self.user}"


class Service(models.Model):
    """A kind of lesson an instructor sells, with its length, price and rules."""

    instructor = models.ForeignKey(
        InstructorProfile, on_delete=models.CASCADE, related_name="services"
    )
    name = models.CharField(max_length=120)
    duration_minutes = models.PositiveIntegerField()
    price_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    location_types = models.CharField(max_length=80)
    buffer_before_minutes = models.PositiveIntegerField(default=0)
    buffer_after_minutes = models.PositiveIntegerField(default=0)
    min_notice_minutes = models.PositiveIntegerField(default=720)
    booking_window_days = models.PositiveIntegerField(default=60)
    # Slots start every this many minutes from each window's start; empty: the duration.
    slot_interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The catalogue's filters (bookings/search.py): an active service by price, and by
        # the location sets that hold a location type.
        indexes = [
            models.Index(fields=["is_active", "price_cents"], name="service_active_price"),
            models.Index(fields=["is_active", "location_types"], name="service_active_locations"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(location_types__in=LOCATION_SET_KEYS),
                name="service_location_types_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=5, duration_minutes__lte=720),
                name="service_duration_range",
            ),
            models.CheckConstraint(
                condition=models.Q(booking_window_days__gte=1, booking_window_days__lte=365),
                name="service_booking_window_range",
            ),
            models.CheckConstraint(
                condition=models.Q(slot_interval_minutes__isnull=True)
                | models.Q(slot_interval_minutes__gte=5, slot_interval_minutes__lte=720),
                name="service_slot_interval_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def location_type_list(self) -> list[str]:
        return self.location_types.split(",")

    @property
    def slot_step_minutes(self) -> int:
        return self.slot_interval_minutes or self.duration_minutes


class AvailabilityRule(models.Model):
    """Weekly hours in the instructor's local wall-clock time (Monday is 0)."""

    instructor = models.ForeignKey(
        InstructorProfile, on_delete=models.CASCADE, related_name="availability_rules"
    )
    weekday = models.PositiveSmallIntegerField()
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="rule_weekday_range"),
            models.CheckConstraint(
                condition=models.Q(start_time__lt=models.F("end_time")),
                name="rule_start_before_end",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instructor_id} day {self.weekday} {self.start_time}-{self.end_time}"


class AvailabilityOverride(models.Model):
    """Other hours on one local date; no intervals means a day off."""

    instructor = models.ForeignKey(
        InstructorProfile, on_delete=models.CASCADE, related_name="availability_overrides"
    )
    date = models.DateField()
    intervals = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instructor", "date"], name="override_one_per_date")
        ]

    def __str__(self) -> str:
        return f"{self.instructor_id} on {self.date}"


class BookingStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


# The states that hold the instructor's time; the exclusion constraint covers only these.
HOLDING_STATUSES = (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED)


class Booking(models.Model):
    """One lesson. `status` moves only through `bookings.services`, guarded by compare-and-swap.

    `hold_start`/`hold_end` are the lesson widened by the service's buffers: the time
    no other booking of this instructor may overlap while the booking holds time.
    """

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings_as_student"
    )
    instructor = models.ForeignKey(
        InstructorProfile, on_delete=models.PROTECT, related_name="bookings"
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="bookings")
    status = models.CharField(max_length=20, choices=BookingStatus.choices)
    start = models.DateTimeField()
    end = models.DateTimeField()
    hold_start = models.DateTimeField()
    hold_end = models.DateTimeField()
    location_type = models.CharField(max_length=20, choices=LocationType.choices)
    note = models.TextField(blank=True, default="")
    # Where it happens, fixed when booked: the instructor's address, the meeting point or
    # the student's address, by `location_type`; empty online or when none was given.
    place = models.CharField(max_length=PLACE_MAX_LENGTH, blank=True, default="")
    price_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    # Its money, made with it and owned by payments (reference `booking-<id>`).
    payment = models.OneToOneField(
        "payments.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    cancel_reason = models.CharField(max_length=500, blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reminder_24h_sent_at = models.DateTimeField(null=True, blank=True)
    reminder_1h_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["instructor", "hold_start"], name="booking_instructor_time"),
            models.Index(fields=["student", "start"], name="booking_student_time"),
            models.Index(fields=["status", "start"], name="booking_status_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="booking_idempotency_key_once",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=BookingStatus.values), name="booking_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(location_type__in=LocationType.values),
                name="booking_location_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(start__lt=models.F("end"))
                & models.Q(hold_start__lte=models.F("start"))
                & models.Q(hold_end__gte=models.F("end")),
                name="booking_times_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"Booking {self.pk} ({self.status})"
