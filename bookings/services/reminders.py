"""Reminder e-mails 24 hours and 1 hour before a confirmed lesson, each sent once."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking, BookingStatus

BATCH = 100

# (field marking it sent, how long before the start, the latest it still makes sense)
REMINDERS = (
    ("reminder_24h_sent_at", timedelta(hours=24), timedelta(hours=1)),
    ("reminder_1h_sent_at", timedelta(hours=1), timedelta(0)),
)


def _local(moment: datetime, user: User) -> str:
    return moment.astimezone(ZoneInfo(user.timezone)).strftime("%A %d %B %Y at %H:%M (%Z)")


def _messages(booking: Booking) -> list[EmailMessage]:
    student, instructor = booking.student, booking.instructor.user
    messages = []
    for recipient, other in ((student, instructor), (instructor, student)):
        body = (
            f"Hello {recipient.name},\n\n"
            f"your {booking.service.name} lesson with {other.name} starts on "
            f"{_local(booking.start, recipient)}.\n\nBooking {booking.pk}."
        )
        messages.append(
            EmailMessage(
                subject=f"Reminder: {booking.service.name} on {_local(booking.start, recipient)}",
                body=body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[recipient.email],
            )
        )
    return messages


def reminders_send(*, now: datetime | None = None) -> int:
    """Send the reminders that are due; returns how many bookings were reminded.

    Rows are locked (skipping ones another run holds) and marked in the transaction
    that sends them, so two runs at once or one after the other send each one once.
    """
    now = now or timezone.now()
    reminded = 0
    for field, lead, latest in REMINDERS:
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
                with get_connection() as connection:
                    connection.send_messages([m for b in due for m in _messages(b)])
                Booking.objects.filter(pk__in=[b.pk for b in due]).update(**{field: now})
                reminded += len(due)
    return reminded
