"""Reads of the credit ledger (a user's balances and their entries, newest first), and of
a person's payments for their data export.

Every read is scoped to one user id: nobody else's ledger can be reached from here.
"""

from typing import Any

from django.db.models import Q, Sum

from conventions.pagination import moment_page
from payments.models import CreditEntry, Payment, PayoutAccount
from payments.shapes import credit_entry_data, payment_record_data


def credit_balances(*, user_id: int) -> list[tuple[str, int]]:
    """(currency, balance) for every currency the user's ledger has entries in, A-Z."""
    rows = (
        CreditEntry.objects.filter(user_id=user_id)
        .values("currency")
        .annotate(total=Sum("amount_cents"))
        .order_by("currency")
    )
    return [(row["currency"], int(row["total"] or 0)) for row in rows]


def credit_entry_list(
    *, user_id: int, cursor: str | None, limit: int
) -> tuple[list[CreditEntry], str | None]:
    """The user's ledger entries, newest first; the cursor is where the last page ended."""
    return moment_page(
        CreditEntry.objects.filter(user_id=user_id),
        cursor=cursor,
        limit=limit,
        moment="created_at",
        newest_first=True,
    )


def credits_export(*, user_id: int) -> dict[str, Any]:
    """The person's balances and every ledger entry, oldest first, for their export."""
    entries = CreditEntry.objects.filter(user_id=user_id).order_by("pk")
    return {
        "balances": [
            {"currency": currency, "amount_cents": amount}
            for currency, amount in credit_balances(user_id=user_id)
        ],
        "entries": [credit_entry_data(entry) for entry in entries],
    }


def payments_export(*, user_id: int) -> dict[str, Any]:
    """The payments the person made or was paid, and whether their payout account is ready;
    no card data, no provider ids."""
    payments = Payment.objects.filter(Q(payer_id=user_id) | Q(payee_id=user_id)).order_by("pk")
    account = PayoutAccount.objects.filter(user_id=user_id).first()
    return {
        "items": [
            payment_record_data(p, role="payer" if p.payer_id == user_id else "payee")
            for p in payments
        ],
        "payout_account": None
        if account is None
        else {
            "charges_enabled": account.charges_enabled,
            "payouts_enabled": account.payouts_enabled,
            "details_submitted": account.details_submitted,
        },
    }
