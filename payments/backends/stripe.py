"""The `stripe` backend: a manual-capture PaymentIntent per payment (a destination charge
with the platform fee when the payee can be paid), a SetupIntent to keep the card of a
lesson far ahead for an off-session authorisation, Connect accounts for payees.

Every request goes through stripe-python's StripeClient (its `v1` services) with an
idempotency key derived from the payment (stripe_intents.idempotency_key).
"""

from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from payments.backends.base import PaymentError, ProviderAccount, ProviderPayment
from payments.backends.stripe_intents import (
    idempotency_key,
    intent_result,
    setup_result,
    stripe_errors,
)
from payments.models import Payment, PaymentState, PayoutAccount

if TYPE_CHECKING:
    from accounts.models import User


def stripe_client() -> stripe.StripeClient:
    """A client for the configured key, at `STRIPE_API_BASE` when set (tests, a proxy)."""
    if not settings.STRIPE_SECRET_KEY:
        raise ImproperlyConfigured("PAYMENTS_BACKEND='stripe' needs STRIPE_SECRET_KEY.")
    base = settings.STRIPE_API_BASE
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": base} if base else {},
        # Lost answers are retried by stripe-python with the same idempotency key.
        max_network_retries=2,
    )


class StripeBackend:
    name = "stripe"

    def __init__(self) -> None:
        self.client = stripe_client()
        self.v1 = self.client.v1

    # --- authorising -----------------------------------------------------------------

    def authorise(
        self, *, payment: Payment, payment_method: str = "", off_session: bool = False
    ) -> ProviderPayment:
        if off_session:
            return self._authorise_off_session(payment)
        if payment.intent_id:
            return self._confirm_existing(payment, payment_method)
        params = self._intent_params(payment)
        if payment_method:
            # Confirmed in the same call: localstripe refuses `confirm` with a payment method.
            params |= {"payment_method": payment_method, "confirm": True}
        options = idempotency_key(payment, "authorise", payment_method or "browser")
        with stripe_errors("Authorising"):
            intent = self.v1.payment_intents.create(params=params, options=options)  # type: ignore[arg-type]
        return intent_result(intent)

    def _confirm_existing(self, payment: Payment, payment_method: str) -> ProviderPayment:
        """An intent made earlier (no card then, or a refused saved card): set the card
        the payer gives now and confirm it, or just report it."""
        with stripe_errors("Authorising"):
            intent = self.v1.payment_intents.retrieve(payment.intent_id)
            unconfirmed = intent.status in ("requires_payment_method", "requires_confirmation")
            if payment_method and unconfirmed:
                options = idempotency_key(payment, "set-card", payment_method)
                self.v1.payment_intents.update(
                    payment.intent_id, params={"payment_method": payment_method}, options=options
                )
                options = idempotency_key(payment, "confirm", payment_method)
                intent = self.v1.payment_intents.confirm(payment.intent_id, options=options)
        return intent_result(intent)

    def _authorise_off_session(self, payment: Payment) -> ProviderPayment:
        """Charge the saved card without the payer. Refused, the payer must pay on-session:
        Stripe's error carries the failed intent (its client secret is what they confirm);
        where it does not (localstripe), a fresh intent is opened for them."""
        if not (payment.customer_id and payment.payment_method_id):
            raise PaymentError("No saved card to authorise off-session.", declined=True)
        params = self._intent_params(payment) | {
            "customer": payment.customer_id,
            "payment_method": payment.payment_method_id,
            "off_session": True,
            "confirm": True,
        }
        options = idempotency_key(payment, "authorise-off-session", payment.payment_method_id)
        try:
            with stripe_errors("Authorising off-session"):
                intent = self.v1.payment_intents.create(params=params, options=options)  # type: ignore[arg-type]
        except PaymentError as error:
            if not error.declined:
                raise
            failed = getattr(getattr(error.__cause__, "error", None), "payment_intent", None)
            if failed is not None:
                return intent_result(failed, failure=str(error))
            fresh = self._intent_params(payment) | {"customer": payment.customer_id}
            options = idempotency_key(payment, "authorise-on-session")
            with stripe_errors("Opening an intent to pay on-session"):
                intent = self.v1.payment_intents.create(params=fresh, options=options)  # type: ignore[arg-type]
            return intent_result(intent, failure=str(error))
        return intent_result(intent)

    def _intent_params(self, payment: Payment) -> dict[str, Any]:
        params: dict[str, Any] = {
            "amount": payment.charge_cents,
            "currency": payment.currency.lower(),
            "capture_method": "manual",
            # The description rides in metadata: localstripe refuses `description`.
            "metadata": {
                "reference": payment.reference,
                "payment_id": str(payment.pk),
                "description": payment.description,
            },
        }
        account = (
            PayoutAccount.objects.filter(user_id=payment.payee_id).first()
            if payment.payee_id
            else None
        )
        if account is not None and account.ready:
            # A destination charge: the payee's account receives it, less the platform fee.
            params["transfer_data"] = {"destination": account.account_id}
            params["application_fee_amount"] = platform_fee(payment.charge_cents)
        return params

    # --- a card kept for later -------------------------------------------------------

    def save_card(self, *, payment: Payment, payment_method: str = "") -> ProviderPayment:
        customer = self._customer(payment)
        params = {
            "customer": customer,
            "usage": "off_session",
            "metadata": {"reference": payment.reference, "payment_id": str(payment.pk)},
        }
        options = idempotency_key(payment, "save-card")
        with stripe_errors("Saving the card"):
            setup = self.v1.setup_intents.create(params=params, options=options)  # type: ignore[arg-type]
            if payment_method:
                setup = self.v1.setup_intents.confirm(
                    setup.id,
                    params={"payment_method": payment_method},
                    options=idempotency_key(payment, "save-card-confirm", payment_method),
                )
        result = setup_result(setup, customer_id=customer)
        self._attach(result)
        return result

    def _customer(self, payment: Payment) -> str:
        """The payer's Customer: this payment's, an earlier payment's, or a new one."""
        earlier = (
            Payment.objects.filter(payer_id=payment.payer_id, provider=self.name)
            .exclude(customer_id="")
            .order_by("-pk")
            .values_list("customer_id", flat=True)
            .first()
        )
        if payment.customer_id or earlier:
            return payment.customer_id or str(earlier)
        payer = payment.payer
        with stripe_errors("Creating the customer"):
            customer = self.v1.customers.create(
                params={
                    "email": payer.email,
                    "name": payer.name,
                    "metadata": {"user_id": str(payer.pk)},
                },
                options={"idempotency_key": f"customer-user-{payer.pk}"},
            )
        return customer.id

    def _attach(self, result: ProviderPayment) -> None:
        """A saved card belongs to the customer (Stripe does it on SetupIntent success;
        localstripe does not), or the off-session charge could not use it."""
        if result.status != PaymentState.CARD_SAVED or not result.payment_method_id:
            return
        with stripe_errors("Attaching the card"):
            card = self.v1.payment_methods.retrieve(result.payment_method_id)
            if not card.customer:
                self.v1.payment_methods.attach(
                    result.payment_method_id, params={"customer": result.customer_id}
                )

    # --- settling --------------------------------------------------------------------

    def capture(self, *, payment: Payment, amount_cents: int) -> ProviderPayment:
        options = idempotency_key(payment, "capture", amount_cents)
        try:
            with stripe_errors("Capturing"):
                intent = self.v1.payment_intents.capture(
                    payment.intent_id, params={"amount_to_capture": amount_cents}, options=options
                )
        except PaymentError:
            intent = self._settled_already(payment, "succeeded")
        return intent_result(intent)

    def release(self, *, payment: Payment) -> ProviderPayment:
        if not payment.intent_id:
            return ProviderPayment(PaymentState.RELEASED)  # a saved card holds no money
        options = idempotency_key(payment, "release")
        try:
            with stripe_errors("Releasing"):
                intent = self.v1.payment_intents.cancel(payment.intent_id, options=options)
        except PaymentError:
            intent = self._settled_already(payment, "canceled", "succeeded")
        return intent_result(intent)

    def _settled_already(self, payment: Payment, *done: str) -> Any:
        """After a refused capture or cancel: the intent as it is, if it is already past
        that step (an earlier try went through); otherwise the refusal stands (retried)."""
        with stripe_errors("Reading the intent"):
            intent = self.v1.payment_intents.retrieve(payment.intent_id)
        if intent.status not in done:
            raise PaymentError(f"The intent is {intent.status}; the request was refused.")
        return intent

    def refund(self, *, payment: Payment, amount_cents: int) -> ProviderPayment:
        # Always with an amount: localstripe refunds the whole charge again without one.
        params = {"payment_intent": payment.intent_id, "amount": amount_cents}
        options = idempotency_key(payment, "refund", payment.refunded_cents, amount_cents)
        with stripe_errors("Refunding"):
            refund = self.v1.refunds.create(params=params, options=options)  # type: ignore[arg-type]
        if refund.status in ("failed", "canceled"):
            raise PaymentError(f"The refund {refund.id} is {refund.status}.")
        refunded = payment.refunded_cents + amount_cents
        full = refunded >= payment.captured_cents
        status = PaymentState.REFUNDED if full else PaymentState.PARTIALLY_REFUNDED
        return ProviderPayment(status, refunded_cents=refunded)

    def retrieve(self, *, payment: Payment) -> ProviderPayment:
        with stripe_errors("Reading the payment"):
            if payment.intent_id:
                intent = self.v1.payment_intents.retrieve(payment.intent_id)
                return intent_result(intent)
            if payment.setup_intent_id:
                setup = self.v1.setup_intents.retrieve(payment.setup_intent_id)
                result = setup_result(setup, customer_id=payment.customer_id)
                self._attach(result)
                return result
        return ProviderPayment(payment.status)

    # --- payees (Stripe Connect) -----------------------------------------------------

    def payout_account_create(self, *, user: "User") -> str:
        params = {
            "type": "express",
            "email": user.email,
            "capabilities": {
                "transfers": {"requested": True},
                "card_payments": {"requested": True},
            },
            "metadata": {"user_id": str(user.pk)},
        }
        with stripe_errors("Opening the payout account"):
            account = self.v1.accounts.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"payout-account-user-{user.pk}"},
            )
        return account.id

    def payout_onboarding_link(self, *, account_id: str, return_url: str) -> str:
        # A used or expired link sends the payee back to return_url, which asks for a new one.
        params = {
            "account": account_id,
            "type": "account_onboarding",
            "refresh_url": return_url,
            "return_url": return_url,
        }
        with stripe_errors("Making the onboarding link"):
            link = self.v1.account_links.create(params=params)  # type: ignore[arg-type]
        return link.url

    def payout_account_retrieve(self, *, account_id: str) -> ProviderAccount:
        with stripe_errors("Reading the payout account"):
            account = self.v1.accounts.retrieve(account_id)
        return ProviderAccount(
            account_id=account.id,
            charges_enabled=bool(account.charges_enabled),
            payouts_enabled=bool(account.payouts_enabled),
            details_submitted=bool(account.details_submitted),
        )


def platform_fee(charge_cents: int) -> int:
    """The platform's share of a destination charge, in basis points, rounded half up."""
    return (charge_cents * settings.PAYMENTS_PLATFORM_FEE_BPS + 5000) // 10000
