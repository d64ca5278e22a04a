"""The payment provider is never called inside a database transaction: a slow provider
must not hold a row lock (or SQLite's one write lock) while it answers."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from payments import backends
from payments.backends import DevBackend, ProviderPayment

pytestmark = pytest.mark.django_db(transaction=True)
CALLS: list[tuple[str, bool]] = []


class WatchedBackend(DevBackend):
    """The dev provider, noting for each call whether a transaction was open."""

    name = "watched"

    def _note(self, action: str) -> None:
        CALLS.append((action, connection.in_atomic_block))

    def authorise(self, **kwargs) -> ProviderPayment:
        self._note("authorise")
        return super().authorise(**kwargs)

    def capture(self, **kwargs) -> ProviderPayment:
        self._note("capture")
        return super().capture(**kwargs)

    def release(self, **kwargs) -> ProviderPayment:
        self._note("release")
        return super().release(**kwargs)


@pytest.fixture(autouse=True)
def watched(settings, monkeypatch):
    monkeypatch.setitem(backends.BACKENDS, "watched", f"{__name__}.WatchedBackend")
    settings.PAYMENTS_BACKEND = "watched"
    backends.payment_backend.cache_clear()
    CALLS.clear()
    yield
    backends.payment_backend.cache_clear()


def test_booking_cancelling_and_completing_call_the_provider_outside_transactions(
    service, student, make_user
):
    def book(days: int) -> Booking:
        start = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0)
        start = start + timedelta(days=days)
        booking, _ = services.booking_create(
            student=make_user("student"), service_id=service.pk, start=start,
            location_type="online",
        )  # fmt: skip
        return booking

    cancelled = book(3)
    services.booking_cancel(user=cancelled.student, booking_id=cancelled.pk, reason="clash")
    finished = book(4)
    start, end = timezone.now() - timedelta(hours=2), timezone.now() - timedelta(hours=1)
    Booking.objects.filter(pk=finished.pk).update(
        start=start, end=end, hold_start=start, hold_end=end
    )
    assert services.booking_complete(booking_id=finished.pk)

    assert [action for action, _ in CALLS] == ["authorise", "release", "authorise", "capture"]
    assert [inside for _, inside in CALLS] == [False] * 4
