"""A reminder whose e-mail cannot be sent costs only that e-mail: the others go out, the
lesson stays reminded (its e-mail is in the outbox, never queued twice), and the outbox
sends it on a later try. A line break in a header never reaches the SMTP server."""

from datetime import time, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from bookings import services
from bookings.models import Booking, Service
from conventions.mail import emails_send
from conventions.models import OutgoingEmail

pytestmark = pytest.mark.django_db(transaction=True)


def confirmed_lesson(service: Service, student, start) -> Booking:
    end = start + timedelta(minutes=service.duration_minutes)
    return Booking.objects.create(
        student=student, instructor_id=service.instructor_id, service=service,
        status="confirmed", start=start, end=end, hold_start=start, hold_end=end,
        location_type="online", price_cents=service.price_cents, currency=service.currency,
    )  # fmt: skip


@pytest.fixture
def lessons(make_user):
    """A Piano and a Cello lesson of one student, 20 hours ahead, each with its teacher."""
    student = make_user("student")
    made = []
    for name in ("Piano", "Cello"):
        teacher = make_user("instructor")
        service = services.service_create(
            instructor=teacher, name=name, duration_minutes=60, price_cents=4500,
            currency="eur", location_types=["online"], min_notice_minutes=0,
        )  # fmt: skip
        services.availability_replace(
            instructor=teacher, timezone="UTC", rules=[(d, time(0), time(23)) for d in range(7)]
        )
        made.append(confirmed_lesson(service, student, timezone.now() + timedelta(hours=20)))
    return made


def kinds(smtp) -> list[str]:
    return sorted(r.subject.split(" on ")[0] for r in smtp.received)


def test_a_reminder_that_cannot_be_sent_stops_nobody_elses_and_is_retried(lessons, smtp, caplog):
    piano, _ = lessons
    piano_teacher = piano.instructor.user.email
    smtp.refused_recipients.add(piano_teacher)

    assert services.reminders_send() == 2
    assert emails_send() == 3
    assert kinds(smtp) == ["Reminder: Cello"] * 2 + ["Reminder: Piano"]
    assert f"to {piano_teacher} (attempt 1)" in caplog.text
    piano.refresh_from_db()
    assert piano.reminder_24h_sent_at is not None  # reminded: its e-mail waits in the outbox
    assert services.reminders_send() == 0

    smtp.refused_recipients.clear()
    OutgoingEmail.objects.filter(sent_at__isnull=True).update(next_attempt_at=timezone.now())
    assert emails_send() == 1
    assert kinds(smtp) == ["Reminder: Cello"] * 2 + ["Reminder: Piano"] * 2
    assert [r.to for r in smtp.received].count((piano_teacher,)) == 1


def test_a_header_with_a_line_break_is_never_sent(lessons, smtp):
    piano, _ = lessons
    # A line break written past validation: the mail library refuses the header.
    Service.objects.filter(pk=piano.service_id).update(name="Piano\nBcc: everyone@example.com")
    assert services.reminders_send() == 2
    assert emails_send() == 2
    assert kinds(smtp) == ["Reminder: Cello"] * 2
    assert all("everyone@example.com" not in r.to for r in smtp.received)
    refused = OutgoingEmail.objects.filter(sent_at__isnull=True)
    assert [e.last_error.split(":")[0] for e in refused] == ["BadHeaderError"] * 2
    assert all(e.next_attempt_at is None for e in refused)  # given up, kept for operators


def test_a_rolled_back_claim_queues_no_reminder(lessons):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.reminders_send()
        raise RuntimeError("the caller's transaction fails")
    assert not OutgoingEmail.objects.exists()
    assert not Booking.objects.filter(reminder_24h_sent_at__isnull=False).exists()
    assert services.reminders_send() == 2
    assert OutgoingEmail.objects.count() == 4
