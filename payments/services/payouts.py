"""Payout accounts: instructors' connected accounts at the provider, kept in step with it."""

from django.db import transaction

from payments.backends import payment_backend
from payments.models import PayoutAccount


def payout_account_refresh(*, account_id: str) -> PayoutAccount | None:
    """Re-read an account from the provider (after `account.updated`); None if not ours.

    Reads the current state rather than the event's copy, so a late event changes nothing.
    """
    if not account_id or not PayoutAccount.objects.filter(account_id=account_id).exists():
        return None
    current = payment_backend().payout_account_retrieve(account_id=account_id)
    with transaction.atomic():
        account = PayoutAccount.objects.select_for_update().filter(account_id=account_id).first()
        if account is None:
            return None
        account.charges_enabled = current.charges_enabled
        account.payouts_enabled = current.payouts_enabled
        account.details_submitted = current.details_submitted
        account.save(
            update_fields=["charges_enabled", "payouts_enabled", "details_submitted", "updated_at"]
        )
    return account
