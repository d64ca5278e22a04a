"""The REST contract of payments: the shapes credits and payout onboarding answer with."""

from ninja import Schema


class BalanceOut(Schema):
    currency: str
    amount_cents: int


class CreditEntryOut(Schema):
    id: int
    currency: str
    amount_cents: int  # positive: granted or returned; negative: spent
    reason: str
    reference: str  # what it was for, e.g. booking-42; empty for a staff grant
    note: str
    created_at: str


class CreditsOut(Schema):
    balances: list[BalanceOut]
    items: list[CreditEntryOut]
    next_cursor: str | None


class OnboardingOut(Schema):
    url: str
