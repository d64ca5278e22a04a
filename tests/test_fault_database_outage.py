"""Drill: the network to PostgreSQL is cut for ~3 s under a live daphne, then restored.

Meanwhile REST answers 503 `unavailable` with Retry-After, socket ops that need the
database get an `unavailable` reply on a socket that stays open, and the process lives;
afterwards everything works without a restart, and every write made around the cut
exists completely (the booking and its events in the log) or not at all. A 503'd
booking retried with its Idempotency-Key makes exactly one booking. Run with -s.
"""

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import time as clock
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from accounts.services import token_create
from bookings.models import Booking
from bookings.selectors import free_slots
from bookings.services import availability_replace, service_create
from conventions.times import iso_z
from hub.client import Event, HubClient, HubError
from hub.models import Event as LogEvent
from tests.faults import TcpProxy
from tests.live import database_url, e2e_server_command, free_port, running, server_env

pytestmark = pytest.mark.django_db(transaction=True)

OUTAGE = 3.0


def http(base: str, method: str, path: str, token: str, body=None, headers=None):
    """(status, headers, JSON body) of one request to the live server."""
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 **(headers or {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def lesson_starts(service, count: int) -> list[str]:
    """`count` free starts at least an hour apart, so no two bookings collide."""
    begin = timezone.now() + timedelta(days=1)
    starts: list = []
    for slot in free_slots(service=service, range_start=begin, range_end=begin + timedelta(days=7)):
        if not starts or slot.start >= starts[-1] + timedelta(hours=1):
            starts.append(slot.start)
    return [iso_z(start) for start in starts[:count]]


class Bookings(threading.Thread):
    """Books one lesson after another, each with its own Idempotency-Key, across the cut."""

    def __init__(self, base: str, token: str, service_id: int, starts: list[str]):
        super().__init__(daemon=True)
        self.base, self.token, self.service_id, self.starts = base, token, service_id, starts
        self.answers: dict[str, tuple[str, int, dict]] = {}  # key -> (start, status, body)
        self.stop = threading.Event()

    def book(self, key: str, start: str) -> tuple[int, dict, dict]:
        body = {"service_id": self.service_id, "start": start, "location_type": "online"}
        status, headers, answer = http(self.base, "POST", "/api/v1/bookings", self.token, body,
                                       {"Idempotency-Key": key})  # fmt: skip
        return status, headers, answer

    def run(self) -> None:
        for n, start in enumerate(self.starts):
            if self.stop.is_set():
                return
            key = f"drill-{n}"
            status, _, answer = self.book(key, start)
            self.answers[key] = (start, status, answer)
            time.sleep(0.05)


async def socket_during_outage(url: str, token: str, open_client: HubClient) -> dict:
    """What a socket sees while the database is away."""
    seen: dict = {}
    for op, call in (
        ("publish", lambda: open_client.publish("room:3", "say", {"text": "cut"})),
        ("subscribe", lambda: open_client.subscribe("room:4")),
    ):
        try:
            await call()
            seen[op] = "ok"
        except HubError as exc:
            seen[op] = (exc.code, exc.retry_after)
    await open_client.ping()  # still open
    seen["still_open"] = open_client.close_code is None
    try:
        async with HubClient(url, token, reconnect=False):
            seen["auth"] = "ok"
    except HubError as exc:
        seen["auth"] = (exc.code, exc.retry_after)
    return seen


def until_ok(call, interval: float = 0.02, limit: float = 30.0) -> float:
    """Seconds until `call()` is true."""
    began = time.monotonic()
    while not call():
        assert time.monotonic() - began < limit, "never recovered"
        time.sleep(interval)
    return time.monotonic() - began


def test_a_database_outage_answers_unavailable_and_leaves_nothing_half_written(tmp_path, make_user):
    teacher = make_user("instructor", timezone="Europe/Berlin")
    learner = make_user("student")
    service = service_create(instructor=teacher, name="Piano", duration_minutes=60,
                             price_cents=4500, currency="EUR", location_types=["online"],
                             min_notice_minutes=0)  # fmt: skip
    availability_replace(instructor=teacher, timezone="Europe/Berlin",
                         rules=[(d, clock(0), clock(23, 59)) for d in range(7)])  # fmt: skip
    token = token_create(user=learner)[1]
    starts = lesson_starts(service, 150)
    pg = db_connection.settings_dict
    port = free_port()
    base, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws/v1/"
    log = (tmp_path / "server.log").open("w")
    with TcpProxy(("127.0.0.1", int(pg["PORT"] or 5432))) as proxy:
        env = server_env() | {"DATABASE_URL": database_url(proxy.port)}
        with running(e2e_server_command(port), env, wait_url=f"{base}/healthz", log=log) as server:
            figures = asyncio.run(drill(proxy, base, url, token, service.pk, starts))
            assert server.poll() is None, "the server died"
    log.close()
    server_log = (tmp_path / "server.log").read_text()
    figures["log"] = {"tracebacks": server_log.count("Traceback"),
                      "tail_failures": server_log.count("Log tail failed")}  # fmt: skip
    report(figures)
    outage = figures["outage"]
    status, headers, body = outage["rest"]
    assert status == 503 and body["error"]["code"] == "unavailable"
    assert set(body["error"]) == {"code", "message", "details"}
    assert int(headers["Retry-After"]) >= 1
    for op in ("publish", "subscribe", "auth"):
        assert outage["socket"][op][0] == "unavailable", (op, outage["socket"])
    assert outage["socket"]["still_open"]
    assert figures["log"]["tracebacks"] == 0  # an outage is a warning, not a traceback per tick
    assert figures["log"]["tail_failures"] <= 1  # once per outage
    assert figures["after"] == {"subscribe": 1, "said": [2], "new_socket": 3}
    check_writes(figures["bookings"], figures["retried"], learner, teacher)


async def drill(proxy: TcpProxy, base, url, token, service_id, starts) -> dict:
    async with HubClient(url, token) as on_socket:
        await on_socket.subscribe("room:3")
        assert (await on_socket.publish("room:3", "say", {"text": "before"}))["seq"] == 1
        bookings = Bookings(base, token, service_id, starts)
        bookings.start()
        await asyncio.sleep(0.5)
        proxy.cut()
        cut = time.monotonic()
        await asyncio.sleep(0.3)
        rest = await asyncio.to_thread(http, base, "GET", "/api/v1/bookings", token)
        socket = await socket_during_outage(url, token, on_socket)
        await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - cut)))
        proxy.restore()
        restored = time.monotonic()

        def rest_ok() -> bool:
            return http(base, "GET", "/api/v1/bookings", token)[0] == 200

        rest_back = await asyncio.to_thread(until_ok, rest_ok)
        publish_back = None
        while publish_back is None:
            try:
                await on_socket.publish("room:3", "say", {"text": "after"})
                publish_back = time.monotonic() - restored
            except HubError:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
        bookings.stop.set()
        await asyncio.to_thread(bookings.join, 30)
        # After: the same socket subscribes and hears its events; a new socket works.
        after = {"subscribe": 0, "said": [], "new_socket": 0}
        after["subscribe"] = len([await on_socket.subscribe("room:4")])
        while True:
            event = await on_socket.next_event(5)
            if isinstance(event, Event) and event.data["text"] == "after":
                after["said"].append(event.seq)
                break
        async with HubClient(url, token) as fresh:
            await fresh.subscribe("room:3")
            after["new_socket"] = (await fresh.publish("room:3", "say", {"text": "new"}))["seq"]
        retried = {}
        for key, (start, status, _) in bookings.answers.items():
            if status == 503:
                retried[key] = await asyncio.to_thread(bookings.book, key, start)
    return {
        "outage": {"rest": rest, "socket": socket},
        "rest_back": rest_back,
        "publish_back": publish_back,
        "after": after,
        "bookings": bookings.answers,
        "retried": retried,
    }


def report(figures) -> None:
    statuses: dict[int, int] = {}
    for _, status, _ in figures["bookings"].values():
        statuses[status] = statuses.get(status, 0) + 1
    print(f"\nPostgreSQL cut for {OUTAGE:.1f} s; bookings answered {statuses}")
    print(f"  restore -> first REST 200: {figures['rest_back']:.2f} s")
    print(f"  restore -> socket publish ok: {figures['publish_back']:.2f} s")
    print(f"  server log: {figures['log']}")


def check_writes(answers, retried, learner, teacher) -> None:
    """Each booking exists with its events, or not at all; each key made at most one."""
    keys = set(answers)
    made = {b.idempotency_key: b for b in Booking.objects.filter(idempotency_key__in=keys)}
    for key, (_, status, body) in answers.items():
        if status in (200, 201):
            assert made[key].pk == body["id"]
        elif status == 503:
            assert key in made or key not in made  # either; the retry below tells
        else:
            pytest.fail(f"booking {key} answered {status}: {body}")
    for key, (status, _, body) in retried.items():
        assert status in (200, 201), (key, status, body)
        assert made.get(key) is None or made[key].pk == body["id"]
    made = {b.idempotency_key: b for b in Booking.objects.filter(idempotency_key__in=keys)}
    per_key = Counter(Booking.objects.filter(idempotency_key__in=keys).values_list(
        "idempotency_key", flat=True))  # fmt: skip
    assert set(per_key) == keys and set(per_key.values()) == {1}  # exactly one booking each
    for user in (learner, teacher):
        logged: dict[int, set[str]] = {}
        for event in LogEvent.objects.filter(topic__name=f"user:{user.pk}"):
            if event.type == "notifications.unread":
                continue
            if event.type == "notification.created":  # the booking's, in its `data`
                booking_id = event.data["data"]["booking_id"]
            else:
                booking_id = event.data.get("id", event.data.get("booking_id"))
            logged.setdefault(booking_id, set()).add(event.type)
        assert set(logged) == {b.pk for b in made.values()}  # no event without its booking
        for booking in made.values():
            wanted = {"booking.created"}
            if booking.status == "confirmed":
                wanted |= {"booking.confirmed", "payment.authorized"}
            assert wanted <= logged[booking.pk], (booking.pk, booking.status, logged[booking.pk])
