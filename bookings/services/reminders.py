"""Reminders 24 hours and 1 hour before a confirmed lesson, each made once: a
notification, and an e-mail for those who want reminders e-mailed."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.notices import local_time, notice_data
from notifications.models import Kind
from notifications.services import Email, notification_create

BATCH = 100

# (kind, field marking it sent, how long before the start, the latest it still makes sense)
REMINDERS = (
    ("24h", "reminder_24h_sent_at", timedelta(hours=24), timedelta(hours=1)),
    ("1h", "reminder_1h_sent_at", timedelta(hours=1), timedelta(0)),
)


def _enqueue(booking: Booking, kind: str) -> None:
    """Remind the student and the instructor, in-app and by e-mail if they want it; the
    e-mail is keyed by the lesson's start so a rescheduled lesson (its reminders re-armed)
    is reminded again."""
    student, instructor = booking.student, booking.instructor.user
    for recipient, other in ((student, instructor), (instructor, student)):
        when = local_time(booking.start, recipient)
        notification_create(
            user=recipient,
            kind=Kind.LESSON_REMINDER,
            data=notice_data(booking, recipient, lead=kind),
            email=Email(
                key=f"reminder-{kind}-{booking.pk}-{recipient.pk}-{booking.start:%Y%m%dT%H%M}",
                subject=f"Reminder: {booking.service.name} on {when}",
                body=(
                    f"Hello {recipient.name},\n\n"
                    f"your {booking.service.name} lesson with {other.name} starts on "
                    f"{when}.\n\nBooking {booking.pk}."
                ),
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
