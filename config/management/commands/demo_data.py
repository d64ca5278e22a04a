"""Load one instructor (with a service and weekly hours) and one student; safe to rerun."""

from datetime import time

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from accounts.services import user_create
from bookings.models import Service
from bookings.services import availability_replace, service_create

DEMO_PASSWORD = "lessons-demo-2026"
INSTRUCTOR_EMAIL = "instructor@example.com"
STUDENT_EMAIL = "student@example.com"


class Command(BaseCommand):
    help = "Create the demo instructor and student (idempotent) and print their credentials."

    def handle(self, *args, **options) -> None:
        # Each user is made in its own short transaction (the password hash stays outside).
        instructor = self._user(INSTRUCTOR_EMAIL, "Ida Instructor", "instructor", "Europe/Berlin")
        student = self._user(STUDENT_EMAIL, "Sam Student", "student", "America/New_York")
        with transaction.atomic():
            if Service.objects.filter(instructor__user=instructor).exists():
                return self._report(instructor, student)
            service_create(
                instructor=instructor,
                name="Piano lesson",
                duration_minutes=60,
                price_cents=4500,
                currency="EUR",
                location_types=["online", "instructor_location"],
            )
            weekdays = [(day, time(9), time(17)) for day in range(5)]
            availability_replace(instructor=instructor, timezone="Europe/Berlin", rules=weekdays)
        self._report(instructor, student)

    def _report(self, instructor: User, student: User) -> None:
        self.stdout.write(f"Demo accounts (password for both: {DEMO_PASSWORD})")
        self.stdout.write(f"  instructor  {instructor.email}  id={instructor.pk}")
        self.stdout.write(f"  student     {student.email}  id={student.pk}")

    def _user(self, email: str, name: str, role: str, timezone: str) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = user_create(
                email=email, password=DEMO_PASSWORD, name=name, role=role, timezone=timezone
            )
        return user
