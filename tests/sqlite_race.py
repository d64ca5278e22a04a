"""Run in an embedded-mode process: students on threads race for one slot on SQLite.

Prints one JSON line: how many bookings were made and how many racers got a conflict.
"""

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.services import user_create  # noqa: E402
from bookings.models import Booking, Service  # noqa: E402
from bookings.selectors import free_slots  # noqa: E402
from bookings.services import booking_create  # noqa: E402
from conventions.errors import Conflict  # noqa: E402

RACERS = 12


def main() -> None:
    service = Service.objects.select_related("instructor").first()
    begin = timezone.now() + timedelta(days=2)
    start = free_slots(service=service, range_start=begin, range_end=begin + timedelta(days=7))[0]
    students = [
        user_create(email=f"racer{n}@example.com", password=None, name=f"R{n}", role="student")
        for n in range(RACERS)
    ]
    barrier = threading.Barrier(RACERS)

    def attempt(student) -> str:
        try:
            barrier.wait(timeout=30)
            booking_create(student=student, service_id=service.pk, start=start.start,
                           location_type=service.location_type_list[0])  # fmt: skip
            return "booked"
        except Conflict:
            return "conflict"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        outcomes = list(pool.map(attempt, students))
    print(json.dumps({
        "booked": outcomes.count("booked"),
        "conflicts": outcomes.count("conflict"),
        "rows": Booking.objects.filter(start=start.start).count(),
        "vendor": connections["default"].vendor,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
