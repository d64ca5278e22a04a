"""A student with something of everything we keep: lessons to come and past, money,
messages both ways, notifications, tokens; and the instructor on the other side."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.services import token_create
from bookings.models import Booking
from bookings.services import booking_create
from chat.models import Conversation, Message
from chat.services import conversation_open, message_send
from payments.models import CreditEntry, CreditReason, Payment
from payments.services import credit_grant
from tests.helpers import lesson_service, next_free_start, place_booking


@dataclass
class World:
    student: User
    instructor: User
    student_token: str
    instructor_token: str
    upcoming: Booking
    past: Booking
    conversation: Conversation
    said: Message  # the student's
    heard: Message  # the instructor's
    credit: CreditEntry


@pytest.fixture
def world(student, instructor) -> World:
    service = lesson_service(instructor, location_types=("online", "student_location"))
    upcoming, _ = booking_create(
        student=student,
        service_id=service.pk,
        start=next_free_start(service),
        location_type="student_location",
        note="Ring twice, the bell is broken",
        address="12 Secret Lane",
    )
    # What the Stripe backend would have stored: never exported, blanked on erasure.
    Payment.objects.filter(pk=upcoming.payment_id).update(
        client_secret="pi_1_secret_abc", customer_id="cus_1", payment_method_id="pm_card_1"
    )
    past = place_booking(
        service,
        student,
        timezone.now() - timedelta(days=3),
        status="completed",
        payment_status="captured",
        payment_reference="dev_pi_past",
    )
    conversation, _ = conversation_open(user=student, participant_id=instructor.pk)
    said, _ = message_send(
        user=student, conversation_id=conversation.pk, body="My secret is 42", client_id="s1"
    )
    heard, _ = message_send(
        user=instructor, conversation_id=conversation.pk, body="Noted, see you", client_id="i1"
    )
    credit = credit_grant(
        user_id=student.pk,
        currency="EUR",
        amount_cents=500,
        reason=CreditReason.STAFF_GRANT,
        note="Sorry about Tuesday, Sam",
    )
    assert credit is not None
    return World(
        student=student,
        instructor=instructor,
        student_token=token_create(user=student, name="Sam's phone")[1],
        instructor_token=token_create(user=instructor)[1],
        upcoming=Booking.objects.get(pk=upcoming.pk),
        past=past,
        conversation=conversation,
        said=said,
        heard=heard,
        credit=credit,
    )
