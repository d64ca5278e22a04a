"""Payouts for instructors: one connected account each, its onboarding link, its readiness.

The account is created once per user: the user's row is locked while the provider
opens it, so a second request waits and then finds the first one's account (and the
primary key on the user catches anything that slips past, on SQLite say).
"""

import logging

from django.db import IntegrityError, transaction

from accounts.models import Role, User
from conventions.errors import Forbidden, Unavailable
from payments.backends import PaymentError, payment_backend
from payments.models import PayoutAccount

logger = logging.getLogger(__name__)


def payout_onboarding_start(*, user: User, return_url: str) -> str:
    """The instructor's onboarding link, opening their connected account the first time.

    A provider that cannot be reached is Unavailable (503): nothing is stored, try again.
    """
    if user.role != Role.INSTRUCTOR:
        raise Forbidden("Only instructors are paid out.")
    try:
        account = PayoutAccount.objects.filter(user=user).first() or _account_open(user)
        return payment_backend().payout_onboarding_link(
            account_id=account.account_id, return_url=return_url
        )
    except PaymentError as error:
        logger.warning("Payout onboarding of user %s failed: %s", user.pk, error)
        raise Unavailable("The payment provider is not answering; try again shortly.") from None


def _account_open(user: User) -> PayoutAccount:
    try:
        with transaction.atomic():
            User.objects.select_for_update(no_key=True).filter(pk=user.pk).first()
            account = PayoutAccount.objects.filter(user=user).first()
            if account is None:
                account_id = payment_backend().payout_account_create(user=user)
                account = PayoutAccount.objects.create(user=user, account_id=account_id)
            return account
    except IntegrityError:
        # Another request stored this user's account first: theirs is the one.
        logger.warning("A second payout account for user %s was not stored", user.pk)
        return PayoutAccount.objects.get(user=user)


def payout_account_refresh(*, account_id: str) -> PayoutAccount | None:
    """Re-read whether the account can be paid (`account.updated`, or on demand);
    None for an account that is not ours. Raises PaymentError when the provider is away."""
    if not PayoutAccount.objects.filter(account_id=account_id).exists():
        return None
    seen = payment_backend().payout_account_retrieve(account_id=account_id)
    with transaction.atomic():
        account = PayoutAccount.objects.select_for_update().filter(account_id=account_id).first()
        if account is None:
            return None
        account.charges_enabled = seen.charges_enabled
        account.payouts_enabled = seen.payouts_enabled
        account.details_submitted = seen.details_submitted
        account.save()
    return account
