"""Payment jobs: take ids, re-read rows, call one service; safe to run twice.

A provider that cannot be reached raises PaymentError; the task is retried with
exponential backoff (and the periodic sweeps catch anything that ran out of retries).
"""

from celery import shared_task
from django.utils import timezone

from payments import services
from payments.backends import PaymentError
from payments.models import Payment, PaymentState

RETRY = {
    "autoretry_for": (PaymentError,),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="payments.payment_release", **RETRY)
def payment_release(payment_id: int) -> str:
    return services.payment_release(payment_id=payment_id).status


@shared_task(name="payments.payment_authorise_off_session", **RETRY)
def payment_authorise_off_session(payment_id: int) -> str:
    return services.payment_authorise_off_session(payment_id=payment_id).status


@shared_task(name="payments.payments_authorise_due")
def payments_authorise_due() -> int:
    """Saved cards whose lesson came within the authorisation window: one task each."""
    due = Payment.objects.filter(
        status=PaymentState.CARD_SAVED, authorise_after__lte=timezone.now()
    ).values_list("pk", flat=True)
    for payment_id in due:
        payment_authorise_off_session.delay(payment_id)
    return len(due)


@shared_task(name="payments.provider_events_process")
def provider_events_process() -> int:
    """Stored Stripe events not processed yet (Stripe was away): retried with backoff."""
    return services.provider_events_process()
