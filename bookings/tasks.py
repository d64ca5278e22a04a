"""Periodic booking jobs: a selector finds the rows due, one service moves each.

Named `bookings.<entity>_<action>` after the service they call, the entity in the
plural because a job sweeps every row that is due.

The service re-checks the same rule under its compare-and-swap or row lock, so a
job run twice, or two runs at once, changes each booking once.
"""

import logging

from celery import shared_task

from bookings import due, services
from payments.backends import PaymentError

logger = logging.getLogger(__name__)


@shared_task(name="bookings.bookings_expire")
def bookings_expire() -> int:
    return sum(services.booking_expire(booking_id=pk) for pk in due.booking_ids_to_expire())


@shared_task(name="bookings.bookings_complete")
def bookings_complete() -> int:
    return sum(services.booking_complete(booking_id=pk) for pk in due.booking_ids_to_complete())


@shared_task(name="bookings.reminders_send")
def reminders_send() -> int:
    return services.reminders_send()


@shared_task(
    name="bookings.booking_payment_settle",
    autoretry_for=(PaymentError,),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
)
def booking_payment_settle(booking_id: int) -> None:
    """Settle one booking's money as soon as its state calls for it (the sweep below is
    the safety net)."""
    services.booking_payment_settle(booking_id=booking_id)


@shared_task(name="bookings.booking_payments_settle")
def booking_payments_settle() -> int:
    """Retry captures, releases and refunds that a backend failure left undone."""
    ids = due.booking_ids_to_settle()
    for pk in ids:
        try:
            services.booking_payment_settle(booking_id=pk)
        except PaymentError as error:  # one provider failure never stops the sweep
            logger.warning("Could not settle the payment of booking %s: %s", pk, error)
    return len(ids)
