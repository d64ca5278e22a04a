"""Texts people give us: a single-line one (a name, a reason, a client id) refuses every
control character, a multi-line one (a message, a note, a bio) all but line breaks and
tabs. A refusal is a 422 naming the field, and nothing is stored."""

from datetime import time

import pytest

from accounts.models import User
from bookings import services
from bookings.models import Booking, Service
from chat.models import Message
from chat.services import conversation_open
from conventions.times import iso_z
from tests.helpers import next_free_start

pytestmark = pytest.mark.django_db

SINGLE_LINE_BAD = ["Eve\nBcc: all@example.com", "Eve\rX", "a\x00b", "\x1b[31mred", "x\u2028y",
                   "abc\u202etxt.exe", "tab\there"]  # fmt: skip
MULTI_LINE_BAD = ["a\x00b", "\x1b[2Jcleared", "bell\x07", "x\u202ey"]
MULTI_LINE_GOOD = "Line one\nLine two\r\n\tindented"


def refused(response, field: str) -> None:
    assert response.status_code == 422, response.content
    body = response.json()["error"]
    assert body["code"] == "invalid" and field in body["details"], body


@pytest.mark.parametrize("name", SINGLE_LINE_BAD)
def test_a_name_with_control_characters_is_refused(api, name):
    response = api().call(
        "post",
        "/api/v1/auth/register",
        {"email": "eve@example.com", "password": "correct-horse-battery-9", "name": name,
         "role": "student", "timezone": "UTC"},
    )  # fmt: skip
    refused(response, "name")
    assert not User.objects.filter(email="eve@example.com").exists()


@pytest.fixture
def teacher(make_user):
    user = make_user("instructor")
    services.availability_replace(
        instructor=user, timezone="UTC", rules=[(d, time(0), time(23, 59)) for d in range(7)]
    )
    return user


def new_service(teacher) -> Service:
    return services.service_create(
        instructor=teacher, name="Piano", duration_minutes=60, price_cents=100,
        currency="EUR", location_types=["online"], min_notice_minutes=0,
    )  # fmt: skip


def test_service_names_and_bios(api, token_for, teacher):
    client = api(token_for(teacher))
    for name in SINGLE_LINE_BAD:
        response = client.call(
            "post",
            "/api/v1/instructors/me/services",
            {"name": name, "duration_minutes": 60, "price_cents": 100, "currency": "EUR",
             "location_types": ["online"]},
        )  # fmt: skip
        refused(response, "name")
    assert not Service.objects.exists()
    for bio in MULTI_LINE_BAD:
        refused(client.call("patch", "/api/v1/instructors/me", {"bio": bio}), "bio")
    answer = client.call("patch", "/api/v1/instructors/me", {"bio": MULTI_LINE_GOOD})
    assert answer.status_code == 200 and answer.json()["bio"] == MULTI_LINE_GOOD.strip()


def test_booking_notes_and_cancel_reasons(api, token_for, teacher, make_user):
    service = new_service(teacher)
    student = make_user("student")
    client = api(token_for(student))
    # A free slot whatever the hour the suite runs at (two days from now at this hour may
    # fall outside the instructor's hours).
    start = next_free_start(service, days_ahead=2)
    body = {"service_id": service.pk, "start": iso_z(start), "location_type": "online"}
    for note in MULTI_LINE_BAD:
        refused(client.call("post", "/api/v1/bookings", body | {"note": note}), "note")
    assert not Booking.objects.exists()
    booked = client.call("post", "/api/v1/bookings", body | {"note": MULTI_LINE_GOOD})
    assert booked.status_code == 201, booked.content
    path = f"/api/v1/bookings/{booked.json()['id']}/cancel"
    for reason in SINGLE_LINE_BAD:
        refused(client.call("post", path, {"reason": reason}), "reason")
    assert Booking.objects.get().status == "confirmed"


def test_messages_and_client_ids(api, token_for, teacher, make_user):
    student = make_user("student")
    conversation, _ = conversation_open(user=student, participant_id=teacher.pk)
    client = api(token_for(student))
    path = f"/api/v1/conversations/{conversation.pk}/messages"
    for n, body in enumerate(MULTI_LINE_BAD):
        refused(client.call("post", path, {"body": body, "client_id": f"c{n}"}), "body")
    for client_id in SINGLE_LINE_BAD:
        refused(client.call("post", path, {"body": "hi", "client_id": client_id}), "client_id")
    assert not Message.objects.exists()
    sent = client.call("post", path, {"body": MULTI_LINE_GOOD, "client_id": "ok"})
    assert sent.status_code == 201 and sent.json()["body"] == MULTI_LINE_GOOD.strip()
    edit = f"{path}/{sent.json()['id']}"
    refused(client.call("patch", edit, {"body": "now\x00with NUL"}), "body")
    assert Message.objects.get().body == MULTI_LINE_GOOD.strip()
