"""Periodic booking jobs: a selector finds the rows due, one service moves each.

The service re-checks the same rule under its compare-and-swap or row lock, so a
job run twice, or two runs at once, changes each booking once.
"""

from celery import shared_task

from bookings import selectors, services


@shared_task(name="bookings.expire_holds")
def expire_holds() -> int:
    return sum(services.booking_expire(booking_id=pk) for pk in selectors.booking_ids_to_expire())


@shared_task(name="bookings.complete_ended")
def complete_ended() -> int:
    return sum(
        services.booking_complete(booking_id=pk) for pk in selectors.booking_ids_to_complete()
    )


@shared_task(name="bookings.send_reminders")
def send_reminders() -> int:
    return services.reminders_send()


@shared_task(name="bookings.settle_payments")
def settle_payments() -> int:
    """Retry captures, releases and refunds that a backend failure left undone."""
    ids = selectors.booking_ids_to_settle()
    for pk in ids:
        services.booking_payment_settle(booking_id=pk)
    return len(ids)
