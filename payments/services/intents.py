"""A payment's life: opened with its owner's change, authorised, settled, kept in step.

The provider is always asked outside any transaction (a slow provider must hold no
lock); what it answers is then recorded in one short transaction that moves the
status only along `MOVES`, never blanks a provider id, and tells the owner.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from payments.backends import PaymentError, ProviderPayment, payment_backend
from payments.models import MOVES, CreditEntry, CreditReason, Payment, PaymentState
from payments.services.credits import credit_grant, credit_spend
from payments.services.outcomes import payment_changed

logger = logging.getLogger(__name__)

# Statuses in which the provider may hold money that a release gives back.
RELEASABLE = (
    PaymentState.REQUIRES_PAYMENT,
    PaymentState.CARD_SAVED,
    PaymentState.AUTHORIZED,
    PaymentState.FAILED,
)
# Past any authorisation: nothing about when to authorise matters any more.
MOVES_DONE = (
    PaymentState.CAPTURED,
    PaymentState.PARTIALLY_REFUNDED,
    PaymentState.REFUNDED,
    PaymentState.RELEASED,
)
_IDS = ("intent_id", "client_secret", "setup_intent_id", "customer_id", "payment_method_id")


def payment_open(
    *,
    reference: str,
    payer_id: int,
    payee_id: int | None,
    amount_cents: int,
    currency: str,
    description: str,
    capture_after: datetime,
) -> Payment:
    """Create the payment inside the caller's transaction, spending credit first.

    Fully covered by credit, it is authorised at once with no card. A capture due
    further out than the card authorisation window saves the card now instead
    (`authorise_after`), for `payments_authorise_due` to authorise nearer the time.
    """
    credit = credit_spend(
        user_id=payer_id, currency=currency, up_to_cents=amount_cents, reference=reference
    )
    window = timedelta(days=settings.PAYMENTS_AUTHORISATION_WINDOW_DAYS)
    defer = capture_after - timezone.now() > window
    return Payment.objects.create(
        reference=reference,
        payer_id=payer_id,
        payee_id=payee_id,
        description=description[:255],
        amount_cents=amount_cents,
        credit_cents=credit,
        currency=currency,
        status=PaymentState.AUTHORIZED if credit == amount_cents else PaymentState.REQUIRES_PAYMENT,
        provider=settings.PAYMENTS_BACKEND,
        authorise_after=capture_after - window if defer else None,
    )


def payment_authorise(*, payment_id: int, payment_method: str = "") -> Payment:
    """Ask the provider to reserve the charge, or to save the card for a lesson far ahead."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentState.REQUIRES_PAYMENT:
        return payment
    backend = payment_backend()
    try:
        if payment.authorise_after and payment.authorise_after > timezone.now():
            result = backend.save_card(payment=payment, payment_method=payment_method)
        else:
            result = backend.authorise(payment=payment, payment_method=payment_method)
    except PaymentError as error:
        logger.warning("Authorising payment %s failed: %s", payment.reference, error)
        result = ProviderPayment(PaymentState.FAILED, failure=str(error)[:255])
    return payment_record(payment_id=payment.pk, result=result)


def payment_authorise_off_session(*, payment_id: int) -> Payment:
    """Authorise a saved card now that the lesson is within the window. Safe to run twice.

    A refusal leaves the payment `requires_payment` with a deadline (`pay_by`) by which
    the payer must pay on-session, with the intent's client secret.
    """
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentState.CARD_SAVED:
        return payment
    try:
        result = payment_backend().authorise(payment=payment, off_session=True)
    except PaymentError as error:
        if not error.declined:
            raise  # the provider is away: the task retries
        logger.info("Off-session authorisation of %s refused: %s", payment.reference, error)
        result = ProviderPayment(PaymentState.REQUIRES_PAYMENT, failure=str(error)[:255])
    pay_by = None
    if result.status in (PaymentState.REQUIRES_PAYMENT, PaymentState.FAILED):
        result = ProviderPayment(**{**result.__dict__, "status": PaymentState.REQUIRES_PAYMENT})
        pay_by = timezone.now() + timedelta(hours=settings.PAYMENTS_PAY_BY_HOURS)
    return payment_record(payment_id=payment.pk, result=result, pay_by=pay_by)


def payment_record(
    *,
    payment_id: int,
    result: ProviderPayment,
    pay_by: datetime | None = None,
    credit_back_cents: int = 0,
) -> Payment:
    """Store what the provider answered and tell the owner, once per change.

    `credit_back_cents`: credit spent on the payment that a capture gives back (a late
    cancellation keeps only a share of it)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        previous = payment.status
        for name in _IDS:
            if getattr(result, name):
                setattr(payment, name, getattr(result, name))
        for name in ("captured_cents", "refunded_cents", "fee_cents"):
            value = getattr(result, name)
            if value is not None:
                setattr(payment, name, max(value, getattr(payment, name)))
        moved = result.status != previous and result.status in MOVES[previous]
        if moved:
            payment.status = result.status
            payment.failure = result.failure
            if pay_by is not None or result.status == PaymentState.AUTHORIZED:
                payment.pay_by = pay_by  # a deadline to pay, until paid (kept once released)
        payment.save()
        if moved:
            if payment.status in (PaymentState.RELEASED, PaymentState.REFUNDED):
                _credit_return(payment)  # given back in full: the credit spent on it too
            elif payment.status == PaymentState.CAPTURED and credit_back_cents > 0:
                _credit_return(payment, min(credit_back_cents, payment.credit_cents))
            payment_changed(payment, previous)
        elif previous == PaymentState.RELEASED and result.status == PaymentState.AUTHORIZED:
            # Released while its authorisation was in flight: give the hold back too.
            from payments.tasks import payment_release as payment_release_later

            transaction.on_commit(lambda: payment_release_later.delay(payment.pk))
    return payment


def _credit_return(payment: Payment, amount_cents: int | None = None) -> None:
    """Give back the credit spent on the payment (all, or `amount_cents` of it); at most
    once (the ledger's constraint)."""
    amount = payment.credit_cents if amount_cents is None else amount_cents
    if amount > 0:
        credit_grant(
            user_id=payment.payer_id,
            currency=payment.currency,
            amount_cents=amount,
            reason=CreditReason.RETURNED,
            reference=payment.reference,
        )


def _credit_returned(payment: Payment) -> bool:
    """Whether the credit spent on the payment came back already (or none was spent)."""
    return (
        not payment.credit_cents
        or CreditEntry.objects.filter(
            user_id=payment.payer_id, reason=CreditReason.RETURNED, reference=payment.reference
        ).exists()
    )


def payment_capture(
    *, payment_id: int, amount_cents: int, credit_kept_cents: int | None = None
) -> Payment:
    """Take up to `amount_cents` of an authorised charge; the rest is given back, and so
    is the credit spent on it beyond `credit_kept_cents` (None: all of it is kept).

    Raises PaymentError when the provider cannot be reached (the caller retries).
    """
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentState.AUTHORIZED:
        return payment
    amount = min(amount_cents, payment.charge_cents)
    if not payment.intent_id:  # covered by credit: nothing at the provider
        result = ProviderPayment(PaymentState.CAPTURED, captured_cents=0)
    else:
        result = payment_backend().capture(payment=payment, amount_cents=amount)
    kept = payment.credit_cents if credit_kept_cents is None else credit_kept_cents
    return payment_record(
        payment_id=payment.pk, result=result, credit_back_cents=payment.credit_cents - kept
    )


def payment_release(*, payment_id: int) -> Payment:
    """Give back whatever is held, in full (and the credit spent on it, a failed payment's
    too: it can no longer be paid). Safe to run twice."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status not in (*RELEASABLE, PaymentState.RELEASED):
        return payment
    failed = payment.status == PaymentState.FAILED
    if failed and _credit_returned(payment) and payment.credit_cents:
        return payment  # released before: nothing is left to give back
    if payment.intent_id or payment.setup_intent_id:
        result = payment_backend().release(payment=payment)
    else:
        result = ProviderPayment(PaymentState.RELEASED)
    if failed:
        # The failure stays on record (it says why the booking ended); the credit comes back.
        with transaction.atomic():
            payment = payment_record(payment_id=payment.pk, result=ProviderPayment(payment.status))
            _credit_return(payment)
        return payment
    return payment_record(payment_id=payment.pk, result=result)


def payment_refund(*, payment_id: int, amount_cents: int) -> Payment:
    """Give back captured money: all of it, or part."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status not in (PaymentState.CAPTURED, PaymentState.PARTIALLY_REFUNDED):
        return payment
    amount = min(amount_cents, payment.captured_cents - payment.refunded_cents)
    if amount <= 0 or not payment.intent_id:
        result = ProviderPayment(PaymentState.REFUNDED, refunded_cents=payment.captured_cents)
    else:
        result = payment_backend().refund(payment=payment, amount_cents=amount)
    return payment_record(payment_id=payment.pk, result=result)


def payment_sync(*, payment_id: int) -> Payment:
    """Re-read the payment from the provider and record it: events may be late or reordered."""
    payment = Payment.objects.get(pk=payment_id)
    if not (payment.intent_id or payment.setup_intent_id):
        return payment
    return payment_record(payment_id=payment.pk, result=payment_backend().retrieve(payment=payment))


def payment_reschedule(*, payment_id: int, capture_after: datetime) -> None:
    """The thing paid for moved (a rescheduled lesson): a card saved for later is
    authorised relative to the new time. In the caller's transaction."""
    window = timedelta(days=settings.PAYMENTS_AUTHORISATION_WINDOW_DAYS)
    Payment.objects.filter(pk=payment_id, authorise_after__isnull=False).exclude(
        status__in=(PaymentState.AUTHORIZED, *MOVES_DONE)
    ).update(authorise_after=capture_after - window)
