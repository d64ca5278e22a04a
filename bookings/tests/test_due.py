"""What the periodic jobs find is exactly what the services would act on."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import selectors
from bookings.models import BookingStatus
from payments.backends import PaymentStatus
from tests.helpers import place_booking

pytestmark = pytest.mark.django_db

PAYMENT_STATUSES = [v for k, v in vars(PaymentStatus).items() if k.isupper()]


def test_the_settlement_sweep_finds_exactly_the_bookings_settlement_acts_on(service, student):
    start = timezone.now() + timedelta(days=3)
    placed = []
    for n, (status, payment, reference) in enumerate(
        itertools.product(BookingStatus.values, PAYMENT_STATUSES, ("", "ref"))
    ):
        # Holding bookings may not overlap: one hour apart each.
        at = start + timedelta(hours=n)
        fields = {"payment_status": payment, "payment_reference": reference}
        placed.append(place_booking(service, student, at, status=status, **fields))
    acted_on = {b.pk for b in placed if selectors.settlement_action(b) is not None}
    assert acted_on  # the table is not empty...
    assert set(selectors.booking_ids_to_settle()) == acted_on  # ...and the filter agrees with it
