"""Reminder e-mails 24 hours and 1 hour before a confirmed lesson, each queued once."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking, BookingStatus
from conventions.mail import email_enqueue

BATCH = 100

# (kind, field marking it sent, how long before the start, the latest it still makes sense)
REMINDERS = (
    ("24h", "reminder_24h_sent_at", timedelta(hours=24), timedelta(hours=1)),
    ("1h", "reminder_1h_sent_at", timedelta(hours=1), timedelta(0)),
)


def _local(moment: datetime, user: User) -> str:
    return moment.astimezone(ZoneInfo(user.timezone)).strftime("%A %d %B %Y at %H:%M (%Z)")


def _enqueue(booking: Booking, kind: str) -> None:
    """Queue the student's and the instructor's e-mail, keyed by the lesson's start so a
    rescheduled lesson (its reminders re-armed) is reminded again."""
    student, instructor = booking.student, booking.instructor.user
    for recipient, other in ((student, instructor), (instructor, student)):
        when = _local(booking.start, recipient)
        email_enqueue(
            key=f"reminder-{kind}-{booking.pk}-{recipient.pk}-{booking.start:%Y%m%dT%H%M}",
            to=recipient.email,
            subject=f"Reminder: {booking.service.name} on {when}",
            body=(
                f"Hello {recipient.name},\n\n"
                f"your {booking.service.name} lesson with {other.name} starts on "
                f"{when}.\n\nBooking {booking.pk}."
            ),
        )


def reminders_send(*, now: datetime | None = None) -> int:
    """Queue the reminders that are due; returns how many bookings were reminded.

    A batch is claimed (rows locked, skipping ones another run holds, and marked) and
    its e-mails queued in the outbox in the same short transaction: both happen or
    neither, and the outbox sends them (and retries) after it commits.
    """
    now = now or timezone.now()
    reminded = 0
    for kind, field, lead, latest in REMINDERS:
        while True:
            with transaction.atomic():
                due = list(
                    Booking.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("student", "instructor__user", "service")
                    .filter(
                        status=BookingStatus.CONFIRMED,
                        start__lte=now + lead,
                        start__gt=now + latest,
                        **{f"{field}__isnull": True},
                    )
                    .order_by("start")[:BATCH]
                )
                if not due:
                    break
                Booking.objects.filter(pk__in=[b.pk for b in due]).update(**{field: now})
                for booking in due:
                    _enqueue(booking, kind)
            reminded += len(due)
    return reminded
