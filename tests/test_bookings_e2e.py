"""Booking end to end over a live daphne on PostgreSQL and Redis, with our Python client."""

import asyncio
import json
import urllib.error
import urllib.request
from datetime import time, timedelta

import pytest
from django.utils import timezone

from accounts.services import token_create, user_create
from bookings.selectors import free_slots
from bookings.services import availability_replace, service_create
from conventions.times import iso_z
from hub.client import Event, HubClient, HubError
from tests.helpers import PASSWORD
from tests.live import daphne_command, server_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def port(live_servers) -> int:
    (port,) = live_servers.start(daphne_command, server_env())
    return port


def http(base: str, method: str, path: str, token: str, body=None) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def events_until(client: HubClient, wanted: set[str], timeout: float = 10) -> list[Event]:
    """Collect events until every wanted type has arrived."""
    seen: list[Event] = []
    while not wanted <= {e.type for e in seen}:
        event = await client.next_event(timeout)
        if isinstance(event, Event):
            seen.append(event)
    return seen


def test_a_booking_reaches_the_instructors_calendar_live_and_a_cancel_frees_it(port):
    password = PASSWORD
    teacher = user_create(email="t@example.com", password=password, name="Tea",
                          role="instructor", timezone="Europe/Berlin")  # fmt: skip
    learner = user_create(email="s@example.com", password=password, name="Stu",
                          role="student", timezone="America/New_York")  # fmt: skip
    service = service_create(instructor=teacher, name="Piano", duration_minutes=60,
                             price_cents=4500, currency="EUR", location_types=["online"],
                             min_notice_minutes=0)  # fmt: skip
    availability_replace(instructor=teacher, timezone="Europe/Berlin",
                         rules=[(d, time(8), time(20)) for d in range(7)])  # fmt: skip
    begin = timezone.now() + timedelta(days=1)
    start = free_slots(service=service, range_start=begin, range_end=begin + timedelta(days=7))[
        0
    ].start
    teacher_token, learner_token = token_create(user=teacher)[1], token_create(user=learner)[1]
    base = f"http://127.0.0.1:{port}"
    day = start.date().isoformat()
    slots_path = (
        f"/api/v1/instructors/{teacher.pk}/slots"
        f"?service_id={service.pk}&start={day}&end={day}&tz=UTC"
    )

    def slot_starts() -> list[str]:
        return [s["start"] for s in http(base, "GET", slots_path, learner_token)[1]["slots"]]

    async def scenario():
        async with HubClient(f"ws://127.0.0.1:{port}/ws/v1/", teacher_token) as calendar:
            await calendar.subscribe(f"user:{teacher.pk}")
            await calendar.subscribe(f"availability:{teacher.pk}")
            assert iso_z(start) in await asyncio.to_thread(slot_starts)

            body = {"service_id": service.pk, "start": iso_z(start), "location_type": "online"}
            status, booking = await asyncio.to_thread(
                http, base, "POST", "/api/v1/bookings", learner_token, body
            )
            assert status == 201 and booking["status"] == "confirmed"
            seen = await events_until(
                calendar, {"booking.created", "booking.confirmed", "availability.changed"}
            )
            by_type = {e.type: e for e in seen}
            assert by_type["booking.confirmed"].data["id"] == booking["id"]
            assert by_type["booking.created"].topic == f"user:{teacher.pk}"
            change = by_type["availability.changed"]
            assert change.topic == f"availability:{teacher.pk}"
            assert (change.data["start"], change.data["end"]) == (
                booking["start"],
                booking["end"],
            )
            assert iso_z(start) not in await asyncio.to_thread(slot_starts)

            path = f"/api/v1/bookings/{booking['id']}/cancel"
            status, cancelled = await asyncio.to_thread(
                http, base, "POST", path, learner_token, {"reason": "moving"}
            )
            assert status == 200 and cancelled["status"] == "cancelled"
            seen = await events_until(calendar, {"booking.cancelled", "availability.changed"})
            freed = next(e for e in seen if e.type == "availability.changed")
            assert freed.data["reason"] == "cancelled"
            assert iso_z(start) in await asyncio.to_thread(slot_starts)

    asyncio.run(scenario())


def test_availability_topics_are_for_instructors_that_exist(port):
    user = user_create(email="w@example.com", password=PASSWORD, name="W")
    token = token_create(user=user)[1]

    async def scenario():
        async with HubClient(f"ws://127.0.0.1:{port}/ws/v1/", token) as client:
            with pytest.raises(HubError) as refused:
                await client.subscribe(f"availability:{user.pk}")
            assert refused.value.code == "forbidden"

    asyncio.run(scenario())
