"""Admin pages for bookings render, and the cancel action goes through the service."""

import pytest
from django.urls import reverse

from bookings.models import AvailabilityOverride, AvailabilityRule, Booking, Service
from bookings.services import availability_override_set
from tests.helpers import events_on, next_free_start, place_booking

pytestmark = pytest.mark.django_db


def test_admin_pages_render(admin_client, service, student, instructor):
    booking = place_booking(service, student, next_free_start(service))
    availability_override_set(instructor=instructor, day=booking.start.date(), intervals=[])
    for model, obj in [
        (Service, service),
        (AvailabilityRule, AvailabilityRule.objects.first()),
        (AvailabilityOverride, AvailabilityOverride.objects.first()),
        (Booking, booking),
        (type(service.instructor), service.instructor),
    ]:
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert admin_client.get(changelist).status_code == 200
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        assert admin_client.get(change).status_code == 200
    assert admin_client.get(reverse("admin:bookings_booking_add")).status_code == 403


def test_admin_cancel_action_frees_the_time_and_tells_both(admin_client, service, student):
    booking = place_booking(service, student, next_free_start(service))
    response = admin_client.post(
        reverse("admin:bookings_booking_changelist"),
        {"action": "cancel_bookings", "_selected_action": [booking.pk]},
        follow=True,
    )
    assert response.status_code == 200
    booking.refresh_from_db()
    assert booking.status == "cancelled" and booking.cancelled_by.email == "root@example.com"
    assert events_on(f"user:{student.pk}")[-1][0] == "booking.cancelled"
