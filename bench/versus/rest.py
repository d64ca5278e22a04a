"""The hub's REST scenarios: students racing for one slot, and a busy instructor's slots."""

import http.client
import json
import statistics
import threading
import time
from datetime import date, timedelta

from bench.versus import fixtures
from bench.versus.servers import Server
from bench.versus.stats import pct, progress


def booking_race(server: Server, students: int) -> dict:
    """`students` POST /bookings for the same slot at the same moment: exactly one may win."""
    service_id, start, tokens = fixtures.race_setup(students)
    body = json.dumps({"service_id": service_id, "start": start, "location_type": "online"})
    barrier = threading.Barrier(students)
    outcomes: list[tuple[int, float]] = []

    def race(token: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.connect()  # the socket is open before the gun
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        barrier.wait()
        began = time.perf_counter()
        connection.request("POST", "/api/v1/bookings", body=body, headers=headers)
        status = connection.getresponse().status
        outcomes.append((status, time.perf_counter() - began))
        connection.close()

    threads = [threading.Thread(target=race, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses: dict[str, int] = {}
    for status, _ in outcomes:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    timings = sorted(t for _, t in outcomes)
    row = {
        "scenario": "booking race", "target": "hub", "processes": server.processes,
        "students": students, "statuses": statuses, "winners": statuses.get("201", 0),
        "p50_ms": pct(timings, 50), "p99_ms": pct(timings, 99),
    }  # fmt: skip
    progress(f"booking race: {statuses}, p99 {row['p99_ms']:.0f} ms")
    return row


def slots(server: Server, requests: int) -> dict:
    """GET 60 days of a busy instructor's slots over one keep-alive connection (bench/slots.py)."""
    from bench.common import time_gets
    from bench.slots import setup

    instructor_id, service_id, token, booked = setup()
    start = date.today()
    path = (
        f"/api/v1/instructors/{instructor_id}/slots?service_id={service_id}"
        f"&start={start}&end={start + timedelta(days=59)}&tz=America/New_York"
    )
    timings_ms, answer = time_gets(
        f"http://127.0.0.1:{server.port}", token, [path] * (requests + 5)
    )
    row = {
        "scenario": "slots, 60 days", "target": "hub", "processes": server.processes,
        "requests": len(timings_ms), "free_slots": len(answer["slots"]), "bookings_held": booked,
        "p50_ms": statistics.median(timings_ms), "p99_ms": pct([t / 1000 for t in timings_ms], 99),
    }  # fmt: skip
    progress(f"slots: p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms")
    return row
