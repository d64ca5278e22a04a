"""One recipient's e-mail failing costs only that e-mail: the batch goes on, and the
lesson whose reminders could not go out is tried again by the next run."""

from datetime import time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from bookings import services
from bookings.models import Booking, Service

pytestmark = pytest.mark.django_db(transaction=True)


def confirmed_lesson(service: Service, student, start) -> Booking:
    end = start + timedelta(minutes=service.duration_minutes)
    return Booking.objects.create(
        student=student, instructor_id=service.instructor_id, service=service,
        status="confirmed", start=start, end=end, hold_start=start, hold_end=end,
        location_type="online", price_cents=service.price_cents, currency=service.currency,
    )  # fmt: skip


def test_a_reminder_that_cannot_be_sent_stops_nobody_elses_and_is_retried(
    make_user, settings, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    student = make_user("student")
    lessons = []
    for name in ("Piano", "Cello"):
        teacher = make_user("instructor")
        service = services.service_create(
            instructor=teacher, name=name, duration_minutes=60, price_cents=4500,
            currency="eur", location_types=["online"], min_notice_minutes=0,
        )  # fmt: skip
        services.availability_replace(
            instructor=teacher, timezone="UTC", rules=[(d, time(0), time(23)) for d in range(7)]
        )
        lessons.append(confirmed_lesson(service, student, timezone.now() + timedelta(hours=20)))
    broken, fine = lessons
    # A header that the mail library refuses (a line break written past validation).
    Service.objects.filter(pk=broken.service_id).update(name="Piano\nBcc: everyone@example.com")

    assert services.reminders_send() == 1
    assert sorted(m.subject.split(" on ")[0] for m in mail.outbox) == ["Reminder: Cello"] * 2
    assert "Could not send a reminder of booking" in caplog.text
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert fine.reminder_24h_sent_at is not None
    assert broken.reminder_24h_sent_at is None  # unclaimed: the next run tries again

    Service.objects.filter(pk=broken.service_id).update(name="Piano")
    assert services.reminders_send() == 1
    assert sorted(m.subject.split(" on ")[0] for m in mail.outbox) == sorted(
        ["Reminder: Cello"] * 2 + ["Reminder: Piano"] * 2
    )
