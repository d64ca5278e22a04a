"""Slots for a busy instructor over 60 days, through the live REST endpoint.

Sets up (idempotently) an instructor open 07:00-21:00 every day in Europe/Berlin
with a 60-minute lesson every 30 minutes, 15-minute buffers, and every sixth
slot of the next 60 days booked; then times GET .../slots for all 60 days.

    bench/server.sh start; source bench/env.sh
    .venv/bin/python bench/slots.py --requests 200
"""

import argparse
import statistics
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import django_setup, percentile, time_gets

INSTRUCTOR = "bench-busy@example.com"
STUDENT = "bench-student@example.com"


def setup() -> tuple[int, int, str, int]:
    """The busy instructor, its service and a student token; returns booked count too."""
    django_setup()
    from datetime import time as clock

    from django.utils import timezone

    from accounts.models import User
    from accounts.services import token_create, user_create
    from bookings.models import Booking, Service
    from bookings.selectors import free_slots
    from bookings.services import availability_replace, service_create

    def user(email: str, role: str) -> User:
        found = User.objects.filter(email=email).first()
        return found or user_create(email=email, password=None, name=email[:12], role=role)

    teacher, learner = user(INSTRUCTOR, "instructor"), user(STUDENT, "student")
    service = Service.objects.filter(instructor__user=teacher).first()
    if service is None:
        service = service_create(
            instructor=teacher, name="Busy lesson", duration_minutes=60, price_cents=5000,
            currency="EUR", location_types=["online"], buffer_before_minutes=15,
            buffer_after_minutes=15, min_notice_minutes=0, slot_interval_minutes=30,
        )  # fmt: skip
        availability_replace(instructor=teacher, timezone="Europe/Berlin",
                             rules=[(d, clock(7), clock(21)) for d in range(7)])  # fmt: skip
    now = timezone.now()
    horizon = now + timedelta(days=60)
    Booking.objects.filter(service=service, end__lt=now).delete()
    # Once: book every sixth slot that does not touch the previous booking's held time.
    if not Booking.objects.filter(service=service, start__gte=now).exists():
        rows, last_end = [], None
        for slot in free_slots(service=service, range_start=now, range_end=horizon)[::6]:
            hold_start = slot.start - timedelta(minutes=15)
            if last_end and hold_start < last_end:
                continue
            last_end = slot.end + timedelta(minutes=15)
            rows.append(Booking(
                student=learner, instructor_id=service.instructor_id, service=service,
                status="confirmed", start=slot.start, end=slot.end, hold_start=hold_start,
                hold_end=last_end, location_type="online", price_cents=5000, currency="EUR",
            ))  # fmt: skip
        Booking.objects.bulk_create(rows)
    booked = Booking.objects.filter(service=service, start__gte=now).count()
    return teacher.pk, service.pk, token_create(user=learner, name="bench")[1], booked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8100")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()

    instructor_id, service_id, token, booked = setup()
    start = date.today()
    end = start + timedelta(days=args.days - 1)
    path = (
        f"/api/v1/instructors/{instructor_id}/slots?service_id={service_id}"
        f"&start={start}&end={end}&tz=America/New_York"
    )
    timings, answer = time_gets(args.url, token, [path] * (args.requests + 5))
    slots = len(answer["slots"])

    def pct(p: float) -> float:
        return percentile(timings, p)

    print(f"{args.days} days, {booked} bookings held, {slots} free slots per answer")
    print(
        f"GET slots x{len(timings)}: p50 {statistics.median(timings):.1f} ms, "
        f"p95 {pct(95):.1f} ms, p99 {pct(99):.1f} ms, max {timings[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
