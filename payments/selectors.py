"""Reads of the credit ledger: a user's balances and their entries, newest first.

Every read is scoped to one user id: nobody else's ledger can be reached from here.
"""

from django.db.models import Sum

from conventions.pagination import moment_page
from payments.models import CreditEntry


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
