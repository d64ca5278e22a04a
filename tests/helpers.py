"""What tests of more than one app share, in one place: test modules import from here
(and live servers from tests.live), never from each other or from a conftest."""

import base64
import json
import threading
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import time, timedelta

import orjson
from celery.signals import task_postrun
from channels.testing import WebsocketCommunicator
from django.db import close_old_connections, connections
from django.test import Client as DjangoClient
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking, BookingStatus
from bookings.selectors import free_slots
from config.asgi import application
from config.celery import app as celery_app
from hub import services as hub_services
from hub.models import Event
from payments.models import Payment

PASSWORD = "correct-horse-battery-9"


# --- REST --------------------------------------------------------------------------


class ApiClient(DjangoClient):
    """Django's test client speaking JSON, optionally with a bearer token."""

    def __init__(self, token: str | None = None):
        super().__init__()
        self.token = token

    def _headers(self, headers):
        headers = dict(headers or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def call(self, method: str, path: str, body=None, headers=None, raw: str | None = None):
        data = raw if raw is not None else body
        kwargs = {"headers": self._headers(headers)}
        if data is not None:
            kwargs["data"] = data
            kwargs["content_type"] = "application/json"
        return getattr(super(), method)(path, **kwargs)


def assert_error(response, status: int, code: str):
    """The one error shape of api.md, with this status and code; returns the error."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# --- the live protocol, in process ---------------------------------------------------


class Client:
    """A WebsocketCommunicator that speaks JSON frames."""

    def __init__(self, headers=None):
        self.comm = WebsocketCommunicator(application, "/ws/v1/", headers=headers or [])
        self.refs = 0
        self.backlog: list[dict] = []  # frames that arrived while waiting for a reply

    async def open(self, token: str | None = None) -> "Client":
        connected, _ = await self.comm.connect()
        assert connected
        if token:
            reply = await self.call("auth", token=token)
            assert reply["ok"], reply
        return self

    async def send(self, frame: dict) -> None:
        await self.comm.send_to(text_data=json.dumps(frame))

    async def recv(self, timeout: float = 5) -> dict:
        if self.backlog:
            return self.backlog.pop(0)
        return json.loads(await self.comm.receive_from(timeout=timeout))

    async def call(self, op: str, **fields) -> dict:
        """Send a command and return its reply; events that came first wait in the backlog."""
        self.refs += 1
        await self.send({"op": op, "ref": self.refs, **fields})
        while True:
            frame = json.loads(await self.comm.receive_from(timeout=5))
            if frame.get("op") == "reply" and frame.get("ref") == self.refs:
                return frame
            self.backlog.append(frame)

    async def events(self, count: int, timeout: float = 5) -> list[dict]:
        return [await self.recv(timeout) for _ in range(count)]

    async def nothing(self, timeout: float = 0.3) -> bool:
        return not self.backlog and await self.comm.receive_nothing(timeout=timeout)

    async def close(self) -> None:
        await self.comm.disconnect()


# --- the durable log -----------------------------------------------------------------


NOTICE_EVENTS = ("notification.created", "notifications.unread")


def events_on(topic: str, after_seq: int = 0, *, notices: bool = False) -> list[tuple[str, dict]]:
    """The stored events of a topic; the notification events only when asked for, so a
    domain test sees its own events (notifications have tests of their own)."""
    rows = Event.objects.filter(topic__name=topic, seq__gt=after_seq).order_by("seq")
    if not notices:
        rows = rows.exclude(type__in=NOTICE_EVENTS)
    return [(e.type, e.data) for e in rows]


def last_seq(topic: str) -> int:
    event = Event.objects.filter(topic__name=topic).order_by("-seq").first()
    return event.seq if event else 0


# --- bookings ------------------------------------------------------------------------


def place_booking(
    service,
    student,
    start,
    status=BookingStatus.CONFIRMED,
    payment_status: str | None = None,
    payment_reference: str = "",
    **fields,
) -> Booking:
    """A booking row at any time, past ones included: test data, not a service call.

    With `payment_status`, it gets a payment in that state (`payment_reference` as the
    provider's intent id); without, none, as a booking whose money nobody handles.
    """
    end = start + timedelta(minutes=service.duration_minutes)
    booking = Booking.objects.create(
        student=student,
        instructor_id=service.instructor_id,
        service=service,
        status=status,
        start=start,
        end=end,
        hold_start=start - timedelta(minutes=service.buffer_before_minutes),
        hold_end=end + timedelta(minutes=service.buffer_after_minutes),
        location_type="online",
        price_cents=service.price_cents,
        currency=service.currency,
        **fields,
    )
    if payment_status is not None:
        taken = payment_status in ("captured", "partially_refunded", "refunded")
        booking.payment = Payment.objects.create(
            reference=f"booking-{booking.pk}",
            payer=student,
            payee_id=service.instructor_id,
            amount_cents=service.price_cents,
            currency=service.currency,
            status=payment_status,
            provider="dev",
            intent_id=payment_reference,
            captured_cents=service.price_cents if taken else 0,
            refunded_cents=service.price_cents if payment_status == "refunded" else 0,
        )
        booking.save(update_fields=["payment"])
    return booking


def lesson_service(
    instructor,
    *,
    name: str = "Piano",
    price_cents: int = 4500,
    location_types=("online", "instructor_location"),
):
    """A one-hour lesson bookable any day 09:00-17:00 Berlin time, with no notice."""
    made = booking_services.service_create(
        instructor=instructor,
        name=name,
        duration_minutes=60,
        price_cents=price_cents,
        currency="eur",
        location_types=list(location_types),
        min_notice_minutes=0,
        booking_window_days=60,
    )
    booking_services.availability_replace(
        instructor=instructor,
        timezone="Europe/Berlin",
        rules=[(day, time(9), time(17)) for day in range(7)],
    )
    return made


def next_free_start(service, *, days_ahead: int = 1):
    """The first free slot `days_ahead` days from now or later with the next three hours
    free too, as tests book and move lessons up to three hours after it: the first slot
    is no use late in the instructor's day, when the hours after it are closed."""
    begin = timezone.now() + timedelta(days=days_ahead)
    slots = free_slots(service=service, range_start=begin, range_end=begin + timedelta(days=7))
    starts = {slot.start for slot in slots}
    return next(
        slot.start
        for slot in slots
        if all(slot.start + timedelta(hours=n) in starts for n in (1, 2, 3))
    )


# --- concurrency and workers ---------------------------------------------------------


def race(calls) -> list:
    """Run every call at the same instant, each on its own thread and connection."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=30)
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def on_worker(task, args=()):
    """Send the task to the Celery worker and wait for its return value (results are not
    stored, so it is caught as the worker finishes the task)."""
    done = threading.Event()
    outcome = {}
    sent_id = str(uuid.uuid4())

    def finished(sender=None, task_id=None, retval=None, **kwargs):
        if task_id == sent_id:
            outcome["value"] = retval
            done.set()

    task_postrun.connect(finished, weak=False)
    try:
        task.apply_async(args, task_id=sent_id)
        assert done.wait(30), f"{task.name} did not finish"
    finally:
        task_postrun.disconnect(finished)
    return outcome["value"]


@celery_app.task(name="hub.tests.publish_from_worker")
def publish_from_worker(topic: str, n: int) -> int:
    close_old_connections()
    return hub_services.publish(topic=topic, event_type="said", data={"n": n, "from": "worker"})


# --- forged input ------------------------------------------------------------------


def forge(value) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


# Cursors we never made: wrong shapes, types, ranges and encodings.
FORGED_CURSORS = [
    "",
    "!!!",
    "bm90IGpzb24",
    forge(["x"]),
    forge([{}]),
    forge([None]),
    forge([True]),
    forge([1.5]),
    forge([0]),
    forge([-3]),
    forge([2**63]),
    forge({"id": 1}),
    forge([1, 2, 3]),
    forge("1"),
    forge(["2026-01-01T00:00:00", 1]),  # naive
    forge(["0001-01-01T00:00:00+00:00", 1]),
    forge(["9999-12-31T23:59:59+14:00", 1]),
    forge(["yesterday", 1]),
    forge(["2026-01-01T00:00:00+00:00", "1"]),
    forge([["2026-01-01T00:00:00+00:00"], 1]),
    "A" * 5000,
]


# --- live servers over HTTP ----------------------------------------------------------


def http_json(
    url: str, body: dict | None = None, token: str | None = None, timeout: float = 10
) -> tuple[int, dict]:
    """GET (or POST `body` as JSON) to a live server; the status and the JSON answer,
    error answers included."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
