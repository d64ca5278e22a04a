"""What the periodic jobs find is exactly what the services would act on."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import due
from bookings.models import BookingStatus
from payments.models import PaymentState
from tests.helpers import place_booking

pytestmark = pytest.mark.django_db


def test_the_settlement_sweep_finds_exactly_the_bookings_settlement_acts_on(
    service, student, instructor
):
    start = timezone.now() + timedelta(days=3)
    placed = []
    cancellations = [
        {},
        {"cancelled_by": student, "cancelled_at": start - timedelta(days=2)},  # early
        {"cancelled_by": student, "cancelled_at": start - timedelta(hours=2)},  # late
        {"cancelled_by": instructor, "cancelled_at": start - timedelta(hours=2)},
    ]
    combinations = itertools.product(
        BookingStatus.values, [None, *PaymentState.values], ("", "pi_1"), cancellations
    )
    for n, (status, payment, reference, cancelled) in enumerate(combinations):
        # Holding bookings may not overlap: one hour apart each.
        at = start + timedelta(hours=n)
        if cancelled:
            cancelled = {
                **cancelled,
                "cancelled_at": cancelled["cancelled_at"] + timedelta(hours=n),
            }
        placed.append(
            place_booking(
                service,
                student,
                at,
                status=status,
                payment_status=payment,
                payment_reference=reference,
                **cancelled,
            )
        )
    acted_on = {b.pk for b in placed if due.settlement_for(b) is not None}
    assert acted_on  # the policy is not empty...
    assert set(due.booking_ids_to_settle()) == acted_on  # ...and the filter agrees with it
