"""Privacy erasure of payments: the records stay for accounting, with nothing personal.

A payment keeps its amounts, status, reference and the provider's intent ids (needed to
refund and to reconcile with the provider); what ties it to the person's cards goes.
"""

from payments.models import CreditEntry, Payment, PaymentState


def payments_scrub(*, user_id: int) -> int:
    """Blank the client secrets of the person's payments, and their provider customer and
    card ids once no card is still to be charged; blank the notes of their ledger entries.
    In the caller's transaction; returns how many payments changed."""
    paid = Payment.objects.filter(payer_id=user_id)
    changed = paid.exclude(client_secret="").update(client_secret="")
    done = paid.exclude(status__in=(PaymentState.CARD_SAVED, PaymentState.REQUIRES_PAYMENT))
    changed += done.exclude(customer_id="", payment_method_id="").update(
        customer_id="", payment_method_id=""
    )
    CreditEntry.objects.filter(user_id=user_id).exclude(note="").update(note="")
    return changed
