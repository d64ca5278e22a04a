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


class InstructorProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="instructor_profile",
    )
    bio = models.TextField(blank=True, default="")
    timezone = models.CharField(max_length=64, default="UTC")

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
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def location_type_list(self) -> list[str]:
        return self.location_types.split(",")


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
