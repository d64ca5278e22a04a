"""The `dev` backend: every card authorises at once and no money moves (`make run`, tests)."""

import secrets
from typing import TYPE_CHECKING

from payments.backends.base import ProviderAccount, ProviderPayment
from payments.models import PaymentState

if TYPE_CHECKING:
    from accounts.models import User
    from payments.models import Payment


class DevBackend:
    name = "dev"

    def authorise(
        self, *, payment: "Payment", payment_method: str = "", off_session: bool = False
    ) -> ProviderPayment:
        intent = payment.intent_id or f"dev_{secrets.token_hex(8)}"
        return ProviderPayment(PaymentState.AUTHORIZED, intent_id=intent)

    def save_card(self, *, payment: "Payment", payment_method: str = "") -> ProviderPayment:
        return ProviderPayment(
            PaymentState.CARD_SAVED, setup_intent_id=f"dev_seti_{secrets.token_hex(8)}"
        )

    def capture(self, *, payment: "Payment", amount_cents: int) -> ProviderPayment:
        return ProviderPayment(PaymentState.CAPTURED, captured_cents=amount_cents)

    def release(self, *, payment: "Payment") -> ProviderPayment:
        return ProviderPayment(PaymentState.RELEASED)

    def refund(self, *, payment: "Payment", amount_cents: int) -> ProviderPayment:
        refunded = payment.refunded_cents + amount_cents
        full = refunded >= payment.captured_cents
        status = PaymentState.REFUNDED if full else PaymentState.PARTIALLY_REFUNDED
        return ProviderPayment(status, refunded_cents=refunded)

    def retrieve(self, *, payment: "Payment") -> ProviderPayment:
        return ProviderPayment(payment.status)

    def payout_account_create(self, *, user: "User") -> str:
        return f"dev_acct_{secrets.token_hex(8)}"

    def payout_onboarding_link(self, *, account_id: str, return_url: str) -> str:
        # Nothing to fill in: the account is ready as soon as it exists.
        return return_url

    def payout_account_retrieve(self, *, account_id: str) -> ProviderAccount:
        return ProviderAccount(account_id, True, True, True)
