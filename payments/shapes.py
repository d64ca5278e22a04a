"""Payments as REST answers them: built from rows it is given, no queries."""

from conventions.times import iso_z
from payments.models import CreditEntry, Payment


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


def payment_record_data(payment: Payment, *, role: str) -> dict:
    """A payment as its payer or payee finds it in their data export: amounts and status,
    never a client secret nor the provider's ids of customers and cards."""
    return {
        "reference": payment.reference,
        "role": role,
        "description": payment.description,
        "status": payment.status,
        "currency": payment.currency,
        "amount_cents": payment.amount_cents,
        "credit_cents": payment.credit_cents,
        "captured_cents": payment.captured_cents,
        "refunded_cents": payment.refunded_cents,
        "created_at": iso_z(payment.created_at),
        "updated_at": iso_z(payment.updated_at),
    }
