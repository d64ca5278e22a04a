"""Erasure racing itself and the writes that store a person's words or lessons, on the
real PostgreSQL: each ends as if one ran wholly before the other."""

import json
from functools import partial

import pytest
from django.utils import timezone

from accounts.models import User
from bookings.models import HOLDING_STATUSES, Booking
from bookings.services import booking_create
from chat.models import Message
from chat.services import conversation_open, message_send
from conventions.errors import NotFound, Unauthorized
from hub.models import Event
from privacy.models import DataExport, Erasure
from privacy.services import account_erase, export_request
from tests.helpers import PASSWORD, lesson_service, next_free_start, race

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 4


def attempt(call, **kwargs):
    """What the call made (the first of what it returns), or the refusal it met."""
    try:
        return call(**kwargs)[0]
    except (Unauthorized, NotFound) as refused:
        return refused


def erase(person: User, staff: User | None = None) -> bool:
    """Whether this erasure did the work."""
    return account_erase(user=person, password=PASSWORD, by_staff=staff)[1]


def test_two_erasures_at_once_do_the_work_once(make_user):
    staff = User.objects.create_superuser(email="boss@example.com", password=PASSWORD, name="B")
    for _ in range(ROUNDS):
        person = make_user("student")
        assert sorted(race([partial(erase, person), partial(erase, person, staff)])) == [
            False, True,
        ]  # fmt: skip
        assert Erasure.objects.get(user=person).finished_at is not None
    assert User.objects.filter(name="deleted user").count() == ROUNDS


def test_a_booking_made_while_its_student_is_erased_is_cancelled_or_refused(make_user, instructor):
    service = lesson_service(instructor)
    start = next_free_start(service)
    for _ in range(ROUNDS):
        person = make_user("student")
        book = partial(
            attempt, booking_create, student=person, service_id=service.pk, start=start,
            location_type="online", note="call me on 555-0100",
        )  # fmt: skip
        made, _ = race([book, partial(erase, person)])
        assert isinstance(made, Booking | Unauthorized)
        assert not Booking.objects.filter(student=person, status__in=HOLDING_STATUSES).exists()
        assert not Booking.objects.filter(student=person).exclude(note="").exists()


def test_a_booking_of_an_instructor_being_erased_is_cancelled_or_refused(make_user):
    for _ in range(ROUNDS):
        teacher = make_user("instructor")
        service = lesson_service(teacher)
        book = partial(
            attempt, booking_create, student=make_user("student"), service_id=service.pk,
            start=next_free_start(service), location_type="online",
        )  # fmt: skip
        made, _ = race([book, partial(erase, teacher)])
        assert isinstance(made, Booking | NotFound)
        holding = Booking.objects.filter(instructor_id=teacher.pk, status__in=HOLDING_STATUSES)
        assert not holding.exists()


def test_a_message_sent_while_its_author_is_erased_leaves_no_text(make_user, instructor):
    for n in range(ROUNDS):
        person = make_user("student")
        conversation, _ = conversation_open(user=person, participant_id=instructor.pk)
        send = partial(
            attempt, message_send, user=person, conversation_id=conversation.pk,
            body=f"last words {n}", client_id="w",
        )  # fmt: skip
        sent, _ = race([send, partial(erase, person)])
        assert isinstance(sent, Message | Unauthorized)
        assert not Message.objects.filter(sender=person).exclude(body="").exists()
    stored = json.dumps(list(Event.objects.values_list("data", flat=True)))
    assert "last words" not in stored


def test_an_erasure_that_died_midway_is_taken_over_after_its_lease(world):
    staff = User.objects.create_superuser(email="boss@example.com", password=PASSWORD, name="B")
    # A run that closed the account and then died: its claim has lapsed.
    Erasure.objects.create(
        user=world.student, started_at=timezone.now(), claimed_until=timezone.now()
    )
    erasure, done = account_erase(user=world.student, by_staff=staff)
    assert done and erasure.finished_at is not None and erasure.by_staff == staff
    world.upcoming.refresh_from_db()
    assert world.upcoming.status == "cancelled"


def test_asking_for_an_export_twice_at_once_makes_one(world, settings):
    settings.PRIVACY_EXPORTS_PER_DAY = 100
    for _ in range(ROUNDS):
        DataExport.objects.all().delete()
        ask = partial(export_request, user=world.student, expires_in_hours=1)
        results = race([ask, ask])
        assert len({export.pk for export, _ in results}) == 1
        assert sorted(created for _, created in results) == [False, True]
