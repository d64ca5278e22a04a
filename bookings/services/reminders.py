"""Reminder e-mails 24 hours and 1 hour before a confirmed lesson, each sent once."""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking, BookingStatus

logger = logging.getLogger(__name__)
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

    A batch is claimed (rows locked, skipping ones another run holds, and marked)
    in a short transaction, and the e-mail goes out after it commits, so no write
    lock is held through SMTP. A booking whose e-mail all failed is unclaimed and
    tried again by the next run; one failure never stops the batch.
    """
    now = now or timezone.now()
    reminded = 0
    for field, lead, latest in REMINDERS:
        failed: list[int] = []
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
                    .exclude(pk__in=failed)
                    .order_by("start")[:BATCH]
                )
                if not due:
                    break
                Booking.objects.filter(pk__in=[b.pk for b in due]).update(**{field: now})
            with get_connection() as connection:
                for booking in due:
                    if _send_each(connection, _messages(booking), booking):
                        reminded += 1
                    else:
                        failed.append(booking.pk)
                        Booking.objects.filter(pk=booking.pk, **{field: now}).update(
                            **{field: None}
                        )
    return reminded


def _send_each(
    connection: BaseEmailBackend, messages: list[EmailMessage], booking: Booking
) -> bool:
    """Send each recipient's e-mail on its own; True when at least one went out."""
    sent = 0
    for message in messages:
        try:
            sent += connection.send_messages([message]) or 0
        except Exception:
            logger.exception(
                "Could not send a reminder of booking %s to %s", booking.pk, message.to
            )
    return sent > 0
