"""Payments as REST answers them: built from rows it is given, no queries."""

from conventions.times import iso_z
from payments.models import CreditEntry


def credit_entry_data(entry: CreditEntry) -> dict:
    """One ledger line as its owner sees it (never who the staff actor was)."""
    return {
        "id": entry.pk,
        "currency": entry.currency,
        "amount_cents": entry.amount_cents,
        "reason": entry.reason,
        "reference": entry.reference,
        "note": entry.note,
        "created_at": iso_z(entry.created_at),
    }
