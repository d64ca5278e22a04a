"""Periodic booking jobs. Each re-reads rows and calls one service; all are safe to rerun."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from bookings import services
from bookings.models import Booking, BookingStatus
from payments.backends import PaymentStatus


@shared_task(name="bookings.expire_holds")
def expire_holds() -> int:
    cutoff = timezone.now() - timedelta(minutes=settings.BOOKINGS_PAYMENT_HOLD_MINUTES)
    stale = Booking.objects.filter(status=BookingStatus.PENDING_PAYMENT, created_at__lte=cutoff)
    return sum(services.booking_expire(booking_id=pk) for pk in stale.values_list("pk", flat=True))


@shared_task(name="bookings.complete_ended")
def complete_ended() -> int:
    ended = Booking.objects.filter(status=BookingStatus.CONFIRMED, end__lte=timezone.now())
    return sum(
        services.booking_complete(booking_id=pk) for pk in ended.values_list("pk", flat=True)
    )


@shared_task(name="bookings.send_reminders")
def send_reminders() -> int:
    return services.reminders_send()


@shared_task(name="bookings.settle_payments")
def settle_payments() -> int:
    """Retry captures, releases and refunds that a backend failure left undone."""
    unsettled = Booking.objects.filter(
        Q(status__in=(BookingStatus.CANCELLED, BookingStatus.EXPIRED))
        & Q(payment_status__in=(PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED))
        | Q(status__in=(BookingStatus.COMPLETED, BookingStatus.NO_SHOW))
        & Q(payment_status=PaymentStatus.AUTHORIZED)
    )
    ids = list(unsettled.values_list("pk", flat=True))
    for pk in ids:
        services.booking_payment_settle(booking_id=pk)
    return len(ids)
