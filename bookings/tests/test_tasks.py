"""The periodic jobs on a real Celery worker: expiry, completion, reminders, settlement."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections
from django.db.models import F
from django.utils import timezone

from bookings import services, tasks
from bookings.models import Booking, BookingStatus
from bookings.selectors import is_free_slot
from conventions import tasks as mail_tasks
from conventions.mail import emails_send
from conventions.models import OutgoingEmail
from tests.helpers import events_on, last_seq, next_free_start, on_worker, place_booking

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_old_payment_hold_expires_frees_the_slot_and_is_announced(worker, service, student):
    start = next_free_start(service)
    stale = place_booking(service, student, start, status=BookingStatus.PENDING_PAYMENT)
    fresh = place_booking(service, student, start + timedelta(hours=2),
                          status=BookingStatus.PENDING_PAYMENT)  # fmt: skip
    Booking.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=16))
    seq = last_seq(f"availability:{service.instructor_id}")
    assert not is_free_slot(service=service, start=start)

    assert on_worker(tasks.bookings_expire) == 1
    assert on_worker(tasks.bookings_expire) == 0  # a second run changes nothing
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == ("expired", "pending_payment")
    assert is_free_slot(service=service, start=start)
    assert events_on(f"user:{student.pk}")[-1][0] == "booking.expired"
    (change,) = events_on(f"availability:{service.instructor_id}", seq)
    assert change[1]["reason"] == "expired"


def test_ended_lessons_complete_by_their_own_end_time_and_capture(worker, service, student):
    ended = place_booking(service, student, timezone.now() - timedelta(hours=2),
                          payment_status="authorized", payment_reference="dev_1")  # fmt: skip
    running = place_booking(service, student, timezone.now() - timedelta(minutes=30))
    assert on_worker(tasks.bookings_complete) == 1
    assert on_worker(tasks.bookings_complete) == 0
    ended.refresh_from_db()
    running.refresh_from_db()
    assert (ended.status, ended.payment.status) == ("completed", "captured")
    assert running.status == "confirmed"
    types = [t for t, _ in events_on(f"user:{ended.instructor_id}")]
    assert types == ["booking.completed", "payment.captured"]


def test_reminders_go_out_once_per_lesson_and_kind(worker, service, student, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    now = timezone.now()
    tomorrow = place_booking(service, student, now + timedelta(hours=23))
    soon = place_booking(service, student, now + timedelta(minutes=50))
    place_booking(service, student, now + timedelta(hours=30))  # not due yet
    place_booking(service, student, now + timedelta(hours=20), status=BookingStatus.CANCELLED)

    assert on_worker(tasks.reminders_send) == 2
    assert on_worker(tasks.reminders_send) == 0
    assert mail.outbox == []  # queued in the outbox, sent by its own job
    assert on_worker(mail_tasks.emails_send) == 4
    assert on_worker(mail_tasks.emails_send) == 0
    # Two bookings, one mail each to student and instructor.
    assert len(mail.outbox) == 4
    assert sorted({m.to[0] for m in mail.outbox}) == sorted(
        {student.email, service.instructor.user.email}
    )
    student_mail = next(m for m in mail.outbox if m.to == [student.email])
    assert "Reminder: Piano" in student_mail.subject and "EST" in student_mail.subject
    tomorrow.refresh_from_db()
    soon.refresh_from_db()
    assert tomorrow.reminder_24h_sent_at and not tomorrow.reminder_1h_sent_at
    assert soon.reminder_1h_sent_at and not soon.reminder_24h_sent_at


def test_two_reminder_runs_at_the_same_time_send_each_once(service, student, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for hours in range(1, 6):
        place_booking(service, student, timezone.now() + timedelta(hours=hours * 3))
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait(timeout=10)
            return services.reminders_send()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda _: run(), range(2)))
    assert sum(counts) == 5
    assert emails_send() == 10
    assert len(mail.outbox) == 10


def test_a_reschedule_rearms_the_reminders(service, student, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    booking = place_booking(service, student, next_free_start(service, days_ahead=0))
    Booking.objects.filter(pk=booking.pk).update(reminder_24h_sent_at=timezone.now())
    services.booking_reschedule(
        user=student, booking_id=booking.pk, start=next_free_start(service, days_ahead=5)
    )
    booking.refresh_from_db()
    assert booking.reminder_24h_sent_at is None


def test_a_rescheduled_lesson_is_reminded_again(service, student):
    booking = place_booking(service, student, timezone.now() + timedelta(hours=20))
    assert services.reminders_send() == 1
    # Moved two hours later, its reminders re-armed as booking_reschedule does.
    moved = {f: F(f) + timedelta(hours=2) for f in ("start", "end", "hold_start", "hold_end")}
    Booking.objects.filter(pk=booking.pk).update(**moved, reminder_24h_sent_at=None)
    assert services.reminders_send() == 1
    assert OutgoingEmail.objects.count() == 4  # the new start makes new keys
    assert emails_send() == 4


def test_settlement_sweep_retries_what_was_left(worker, service, student):
    left = place_booking(service, student, timezone.now() + timedelta(days=2),
                         status=BookingStatus.CANCELLED, payment_status="authorized",
                         payment_reference="dev_2")  # fmt: skip
    assert on_worker(tasks.booking_payments_settle) == 1
    left.refresh_from_db()
    assert left.payment.status == "released"
    assert on_worker(tasks.booking_payments_settle) == 0
