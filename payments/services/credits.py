"""The credit ledger: append-only entries per user and currency; the balance is their sum.

Every write locks the user's row first, so concurrent spends are serialised and the
balance never goes below zero.
"""

from django.db import transaction
from django.db.models import Sum

from accounts.models import User
from conventions.errors import Invalid
from payments.models import CreditEntry, CreditReason


def credit_balance(*, user_id: int, currency: str) -> int:
    total = CreditEntry.objects.filter(user_id=user_id, currency=currency.upper()).aggregate(
        total=Sum("amount_cents")
    )["total"]
    return int(total or 0)


def _lock_ledger(user_id: int) -> None:
    """Serialise one person's credit spending; NO KEY UPDATE, so rows that merely refer
    to the user (a notification made meanwhile) are not held up and cannot deadlock."""
    User.objects.select_for_update(no_key=True).filter(pk=user_id).first()


@transaction.atomic
def credit_spend(*, user_id: int, currency: str, up_to_cents: int, reference: str) -> int:
    """Spend as much of the balance as covers `up_to_cents`; returns the amount spent."""
    currency = currency.upper()
    _lock_ledger(user_id)
    if CreditEntry.objects.filter(
        user_id=user_id, reason=CreditReason.SPENT, reference=reference
    ).exists():
        return 0  # spent once already for this reference
    spent = min(credit_balance(user_id=user_id, currency=currency), up_to_cents)
    if spent > 0:
        CreditEntry.objects.create(
            user_id=user_id,
            currency=currency,
            amount_cents=-spent,
            reason=CreditReason.SPENT,
            reference=reference,
        )
    return spent


@transaction.atomic
def credit_grant(
    *,
    user_id: int,
    currency: str,
    amount_cents: int,
    reason: str,
    reference: str = "",
    actor: User | None = None,
    note: str = "",
) -> CreditEntry | None:
    """Add credit; a second grant for the same reason and reference adds nothing (None)."""
    if amount_cents <= 0:
        raise Invalid("Credit must be a positive amount.", details={"amount_cents": "above 0"})
    _lock_ledger(user_id)
    if (
        reference
        and reason != CreditReason.STAFF_GRANT
        and CreditEntry.objects.filter(user_id=user_id, reason=reason, reference=reference).exists()
    ):
        return None
    return CreditEntry.objects.create(
        user_id=user_id,
        currency=currency.upper(),
        amount_cents=amount_cents,
        reason=reason,
        reference=reference,
        actor=actor,
        note=note,
    )
