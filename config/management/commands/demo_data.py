"""Load one instructor (with a service and weekly hours) and one student; safe to rerun.

On loopback the accounts share the published password; when the hub serves a
network (HOST is not loopback) each gets a random one, printed once, and an
account still on the published password is moved off it.
"""

import secrets
from datetime import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from accounts.services import user_create
from bookings.models import Service
from bookings.services import availability_replace, service_create
from config.network import is_loopback

DEMO_PASSWORD = "lessons-demo-2026"
INSTRUCTOR_EMAIL = "instructor@example.com"
STUDENT_EMAIL = "student@example.com"


class Command(BaseCommand):
    help = "Create the demo instructor and student (idempotent) and print their credentials."

    def handle(self, *args, **options) -> None:
        self.on_loopback = is_loopback(settings.HOST)
        self.passwords: dict[str, str] = {}
        # Each user is made in its own short transaction (the password hash stays outside).
        instructor = self._user(INSTRUCTOR_EMAIL, "Ida Instructor", "instructor", "Europe/Berlin")
        student = self._user(STUDENT_EMAIL, "Sam Student", "student", "America/New_York")
        with transaction.atomic():
            if not Service.objects.filter(instructor__user=instructor).exists():
                service_create(
                    instructor=instructor,
                    name="Piano lesson",
                    duration_minutes=60,
                    price_cents=4500,
                    currency="EUR",
                    location_types=["online", "instructor_location"],
                )
                weekdays = [(day, time(9), time(17)) for day in range(5)]
                availability_replace(
                    instructor=instructor, timezone="Europe/Berlin", rules=weekdays
                )
        self.stdout.write("Demo accounts:")
        for user in (instructor, student):
            password = self.passwords.get(user.email, "(unchanged)")
            self.stdout.write(f"  {user.role:<10}  {user.email}  password {password}  id={user.pk}")

    def _password(self) -> str:
        return DEMO_PASSWORD if self.on_loopback else secrets.token_urlsafe(12)

    def _user(self, email: str, name: str, role: str, timezone: str) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            password = self.passwords[email] = self._password()
            return user_create(
                email=email, password=password, name=name, role=role, timezone=timezone
            )
        if self.on_loopback:
            self.passwords[email] = DEMO_PASSWORD if user.check_password(DEMO_PASSWORD) else ""
        elif user.check_password(DEMO_PASSWORD):  # published: not on a network
            password = self.passwords[email] = self._password()
            user.set_password(password)
            user.save(update_fields=["password"])
        self.passwords[email] = self.passwords.get(email) or "(unchanged)"
        return user
