"""What each booking change leaves for the people it concerns: a kept notification (the
other side of whoever acted) and the e-mail they chose, made with the change or not at all."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from bookings import tasks
from bookings.models import Booking, BookingStatus
from bookings.services import booking_cancel, booking_reschedule, reminders_send
from conventions.models import OutgoingEmail
from conventions.times import iso_z
from notifications.models import Notification
from notifications.services import notification_settings_update
from tests.helpers import next_free_start, on_worker, place_booking

pytestmark = pytest.mark.django_db


def book(client, service, start):
    body = {"service_id": service.pk, "start": iso_z(start), "location_type": "online"}
    return client.call("post", "/api/v1/bookings", body)


def kinds_of(user) -> list[str]:
    return list(
        Notification.objects.filter(user=user).order_by("pk").values_list("kind", flat=True)
    )


def subjects_to(user) -> list[str]:
    rows = OutgoingEmail.objects.filter(to=user.email).order_by("pk")
    return list(rows.values_list("subject", flat=True))


def test_a_confirmed_booking_tells_both_with_the_other_person_and_emails_them(
    as_student, service, student, instructor
):
    start = next_free_start(service)
    booking = book(as_student, service, start).json()
    assert booking["status"] == "confirmed"
    for user, other in ((student, instructor), (instructor, student)):
        (notice,) = Notification.objects.filter(user=user)
        assert notice.kind == "booking_confirmed"
        assert notice.data == {
            "booking_id": booking["id"], "status": "confirmed", "service": "Piano",
            "start": booking["start"], "end": booking["end"],
            "with": {"id": other.pk, "name": other.name},
        }  # fmt: skip
    assert subjects_to(student)[0].startswith(f"Booked: Piano with {instructor.name} on ")
    assert subjects_to(instructor)[0].startswith(f"New lesson: Piano with {student.name} on ")
    # Each in the reader's own zone.
    for user in (student, instructor):
        local = start.astimezone(ZoneInfo(user.timezone))
        assert f"at {local:%H:%M} ({local:%Z})" in subjects_to(user)[0]


def test_a_slot_already_taken_notifies_nobody(as_student, service, student, instructor, api):
    start = next_free_start(service)
    book(as_student, service, start)
    before = Notification.objects.count(), OutgoingEmail.objects.count()
    assert book(as_student, service, start).status_code == 409
    assert (Notification.objects.count(), OutgoingEmail.objects.count()) == before


def test_a_cancel_tells_the_other_side_with_the_reason(service, student, instructor):
    booking = place_booking(service, student, next_free_start(service, days_ahead=3))
    booking_cancel(user=student, booking_id=booking.pk, reason="Flu")
    assert kinds_of(student) == []
    (notice,) = Notification.objects.filter(user=instructor)
    assert (notice.kind, notice.data["reason"]) == ("booking_cancelled", "Flu")
    (subject,) = subjects_to(instructor)
    assert subject.startswith("Cancelled: Piano on ")
    assert "Reason given: Flu" in OutgoingEmail.objects.get(to=instructor.email).body


def test_a_reschedule_tells_the_other_side(service, student, instructor):
    start = next_free_start(service, days_ahead=3)
    booking = place_booking(service, student, start)
    booking_reschedule(user=instructor, booking_id=booking.pk, start=start + timedelta(hours=1))
    assert kinds_of(instructor) == []
    (notice,) = Notification.objects.filter(user=student)
    assert notice.kind == "booking_rescheduled"
    assert notice.data["start"] == iso_z(start + timedelta(hours=1))
    assert subjects_to(student)[0].startswith(f"Moved: Piano with {instructor.name}, now on ")


@pytest.mark.django_db(transaction=True)
def test_an_expired_hold_tells_the_student_only(worker, service, student, instructor):
    stale = place_booking(service, student, next_free_start(service),
                          status=BookingStatus.PENDING_PAYMENT)  # fmt: skip
    Booking.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=16))
    assert on_worker(tasks.bookings_expire) == 1
    assert (kinds_of(student), kinds_of(instructor)) == (["booking_expired"], [])
    assert subjects_to(student)[0].startswith("Not booked: Piano on ")


def test_email_off_for_a_kind_keeps_the_notification_but_sends_nothing(
    service, student, instructor
):
    notification_settings_update(user=instructor, email={"booking_cancelled": False})
    booking = place_booking(service, student, next_free_start(service, days_ahead=3))
    booking_cancel(user=student, booking_id=booking.pk, reason="")
    assert kinds_of(instructor) == ["booking_cancelled"]
    assert subjects_to(instructor) == []


def test_reminders_notify_both_and_email_only_those_who_want_them(service, student, instructor):
    place_booking(service, student, timezone.now() + timedelta(hours=20))
    notification_settings_update(user=student, email={"lesson_reminder": False})
    assert reminders_send() == 1
    assert kinds_of(student) == kinds_of(instructor) == ["lesson_reminder"]
    assert Notification.objects.get(user=student).data["lead"] == "24h"
    assert subjects_to(student) == []
    assert subjects_to(instructor)[0].startswith("Reminder: Piano on ")
