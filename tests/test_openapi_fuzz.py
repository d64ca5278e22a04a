"""Schemathesis against our own OpenAPI document: generated requests (valid and invalid) to
every REST operation, sent in process to Django's WSGI handler as a real student and a real
instructor. No answer may be a 5xx, an answer with a documented status must match its
documented schema, and every 4xx must have the one error shape.

One pytest test per operation (pytest's own parametrize over the operations: schemathesis's
@schema.parametrize gives every item the same node id under pytest 9.2, and pytest-xdist
then runs only the first); each draws a few derandomized examples, valid and invalid, so the
module is deterministic and quick. Every test has fresh objects (transaction=True: no test
transaction may hide rows from the handler).
"""

from datetime import time

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from bookings import services as booking_services
from chat.services import conversation_open, message_send
from tests.helpers import next_free_start

# Loaded once at import: the document is built from the routes alone (no database).
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
# Not status_code_conformance: the document lists only each operation's success statuses
# (no 4xx at all), so every refused request would fail it. The refusals are checked here
# for the one error shape instead.
CHECKS = [not_a_server_error, response_schema_conformance]
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


def cases(operation):
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )


@pytest.fixture
def world(make_user, token_for, settings):
    """A student and an instructor with a service, weekly hours, a booking and a conversation
    with a message; rate limits raised so no generated burst meets an (undocumented) 429."""
    settings.CHAT_MESSAGE_BURST = 10_000
    settings.CHAT_MESSAGE_RATE_PER_MINUTE = 10_000
    settings.LOGIN_FAILURES_PER_ACCOUNT = 10_000
    settings.LOGIN_FAILURES_PER_ADDRESS = 10_000
    settings.REGISTRATIONS_PER_ADDRESS = 10_000
    student = make_user("student")
    instructor = make_user("instructor")
    service = booking_services.service_create(
        instructor=instructor, name="Piano", duration_minutes=60, price_cents=4500,
        currency="eur", location_types=["online"], min_notice_minutes=0,
    )  # fmt: skip
    booking_services.availability_replace(
        instructor=instructor, timezone="UTC", rules=[(d, time(7), time(21)) for d in range(7)]
    )
    booking, _ = booking_services.booking_create(
        student=student, service_id=service.pk, start=next_free_start(service),
        location_type="online",
    )  # fmt: skip
    conversation, _ = conversation_open(user=student, participant_id=instructor.pk)
    message, _ = message_send(
        user=student, conversation_id=conversation.pk, body="hello", client_id="m1"
    )
    return {
        "users": (student, instructor),
        "token_for": token_for,
        "ids": {
            "instructor_id": instructor.pk,
            "booking_id": booking.pk,
            "conversation_id": conversation.pk,
            "message_id": message.pk,
        },
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
@settings(
    max_examples=4,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_every_operation_answers_as_documented(operation, world, data):
    case = data.draw(cases(operation))
    # Generated ids are almost never real: an integer id is swapped for a real object's, so
    # the operations are reached with data (missing ids: the authorization matrix). Ids of
    # the wrong type (negative examples) stay as generated.
    for name, value in (case.path_parameters or {}).items():
        if name in world["ids"] and isinstance(value, int):
            case.path_parameters[name] = world["ids"][name]
    for user in world["users"]:
        # A fresh token per request: logout and token deletion revoke the one they are sent.
        token = world["token_for"](user)
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )
        if 400 <= response.status_code < 500:
            body = response.json()
            assert set(body) == {"error"}, body
            assert set(body["error"]) == {"code", "message", "details"}, body
