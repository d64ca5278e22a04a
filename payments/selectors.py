"""Reads of the credit ledger: a user's balances and their entries, newest first.

Every read is scoped to one user id: nobody else's ledger can be reached from here.
"""

from django.db.models import Q, Sum

from conventions.pagination import moment_cursor_decode, moment_cursor_encode
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
    entries = CreditEntry.objects.filter(user_id=user_id).order_by("-created_at", "-id")
    if cursor:
        before, before_id = moment_cursor_decode(cursor)
        entries = entries.filter(Q(created_at__lt=before) | Q(created_at=before, pk__lt=before_id))
    page = list(entries[: limit + 1])
    next_cursor = None
    if len(page) > limit:
        last = page[limit - 1]
        next_cursor = moment_cursor_encode(last.created_at, last.pk)
    return page[:limit], next_cursor
