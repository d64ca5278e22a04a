"""What every payment backend offers: the calls payments makes, and what they answer."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from accounts.models import User
    from payments.models import Payment


class PaymentError(Exception):
    """The provider refused or could not be reached; nothing changed at the provider."""

    def __init__(self, message: str, *, declined: bool = False):
        super().__init__(message)
        # A refusal (card declined, authentication failed) is final; anything else is retried.
        self.declined = declined


@dataclass(frozen=True)
class ProviderPayment:
    """What the provider says a payment is now; empty fields are not known or not changed."""

    status: str
    intent_id: str = ""
    client_secret: str = ""
    captured_cents: int | None = None
    refunded_cents: int | None = None
    fee_cents: int | None = None
    customer_id: str = ""
    payment_method_id: str = ""
    setup_intent_id: str = ""
    failure: str = ""


@dataclass(frozen=True)
class ProviderAccount:
    account_id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool


class PaymentBackend(Protocol):
    name: str

    def authorise(
        self, *, payment: "Payment", payment_method: str = "", off_session: bool = False
    ) -> ProviderPayment:
        """Reserve the charge. With a payment method, confirm at once; off-session, charge
        the saved card without the payer present. Retried calls reuse the payment's key."""

    def save_card(self, *, payment: "Payment", payment_method: str = "") -> ProviderPayment:
        """Keep a card for a later off-session authorisation (a lesson far ahead)."""

    def capture(self, *, payment: "Payment", amount_cents: int) -> ProviderPayment: ...

    def release(self, *, payment: "Payment") -> ProviderPayment: ...

    def refund(self, *, payment: "Payment", amount_cents: int) -> ProviderPayment: ...

    def retrieve(self, *, payment: "Payment") -> ProviderPayment:
        """The payment as the provider has it now (webhooks may be late or out of order)."""

    def payout_account_create(self, *, user: "User") -> str:
        """Open a connected account for a payee; returns its id."""

    def payout_onboarding_link(self, *, account_id: str, return_url: str) -> str: ...

    def payout_account_retrieve(self, *, account_id: str) -> ProviderAccount: ...
