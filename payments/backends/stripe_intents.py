"""Reading Stripe's answers for the `stripe` backend: an intent's status as a PaymentState,
its amounts, its errors as PaymentError, and the idempotency key of each request."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import stripe

from payments.backends.base import PaymentError, ProviderPayment
from payments.models import PaymentState

if TYPE_CHECKING:
    from payments.models import Payment

# Nothing is reserved yet: the payer still has to act (card, 3-D Secure) or Stripe is busy.
AWAITING_PAYER = (
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
)
# Error codes that are the payer's card saying no: final, not worth retrying.
REFUSALS = {
    "card_declined",
    "authentication_required",
    "payment_intent_authentication_failure",
    "expired_card",
    "incorrect_cvc",
    "processing_error",
    "setup_intent_authentication_failure",
}


def idempotency_key(payment: "Payment", action: str, *parts: object) -> stripe.RequestOptions:
    """The request options for one attempt at `action`: the same request retried (a task
    retry, a lost answer) carries the same key, so Stripe answers it once; once an outcome
    was recorded (the payment row changed), a new attempt gets a new key instead of the
    earlier attempt's stored answer (e.g. a decline)."""
    attempt = payment.updated_at.strftime("%Y%m%dT%H%M%S%f") if payment.updated_at else "0"
    key = "-".join([payment.reference, action, *(str(p) for p in parts if p), attempt])
    return {"idempotency_key": key[:255]}


@contextmanager
def stripe_errors(action: str) -> Iterator[None]:
    """Stripe's exceptions as PaymentError: a card's refusal is final (`declined`), an
    unreachable or failing Stripe is not (the task retries)."""
    try:
        yield
    except stripe.CardError as error:
        raise PaymentError(f"{action}: {error.user_message or error}", declined=True) from error
    except stripe.InvalidRequestError as error:
        # A payment method the browser sent that does not exist or cannot be used is the
        # payer's to fix; any other refused request is ours and is reported, not retried.
        declined = error.code in REFUSALS or error.param == "payment_method"
        raise PaymentError(f"{action}: {error.user_message or error}", declined=declined) from error
    except stripe.StripeError as error:
        raise PaymentError(f"{action}: {error.user_message or error}") from error


def _field(obj: Any, name: str) -> Any:
    """A field of a Stripe object that may be missing (localstripe omits several)."""
    if obj is None or isinstance(obj, str):
        return None
    return obj.get(name) if hasattr(obj, "get") else getattr(obj, name, None)


def _id(obj: Any) -> str:
    """An id whether Stripe sent the id or the expanded object (localstripe expands)."""
    if isinstance(obj, str):
        return obj
    return str(_field(obj, "id") or "")


def charge_amounts(intent: Any, charge: Any) -> tuple[int | None, int | None]:
    """(captured, refunded) of a succeeded intent. `amount_received` and the charge's
    `amount_captured` where Stripe sends them; localstripe sends neither and books the
    uncaptured rest of a partial capture as a refund, so there the capture is the charge
    less its refunds and the refunds are not known (the row keeps what it counted)."""
    received = _field(intent, "amount_received")
    captured = _field(charge, "amount_captured")
    refunded = _field(charge, "amount_refunded")
    if captured is not None:
        return (received if received is not None else captured), refunded
    if received is not None:
        return received, None
    amount = _field(charge, "amount")
    if amount is None:
        return None, None
    return amount - (refunded or 0), None


def intent_result(
    intent: Any, *, charge: Any = None, customer_id: str = "", failure: str = ""
) -> ProviderPayment:
    """What a PaymentIntent says about the payment now."""
    status = intent.status
    common: dict[str, Any] = {
        "intent_id": intent.id,
        "customer_id": customer_id or _id(_field(intent, "customer")),
        "payment_method_id": _id(_field(intent, "payment_method")),
        "fee_cents": _field(intent, "application_fee_amount"),
    }
    if status == "requires_capture":
        return ProviderPayment(PaymentState.AUTHORIZED, **common)
    if status in AWAITING_PAYER:
        error = _field(intent, "last_payment_error")
        reason = failure or str(_field(error, "message") or _field(error, "code") or "")
        return ProviderPayment(
            PaymentState.REQUIRES_PAYMENT,
            client_secret=intent.client_secret or "",
            failure=reason[:255],
            **common,
        )
    if status == "canceled":
        return ProviderPayment(PaymentState.RELEASED, **common)
    if status == "succeeded":
        charge = charge if charge is not None else _field(intent, "latest_charge")
        captured, refunded = charge_amounts(intent, charge)
        state = PaymentState.CAPTURED
        if refunded and captured:
            full = refunded >= captured
            state = PaymentState.REFUNDED if full else PaymentState.PARTIALLY_REFUNDED
        return ProviderPayment(state, captured_cents=captured, refunded_cents=refunded, **common)
    raise PaymentError(f"Unknown PaymentIntent status {status!r}")


def setup_result(setup: Any, *, customer_id: str) -> ProviderPayment:
    """What a SetupIntent (a card kept for later) says about the payment now."""
    common = {"setup_intent_id": setup.id, "customer_id": customer_id}
    if setup.status == "succeeded":
        pm = _id(_field(setup, "payment_method"))
        return ProviderPayment(PaymentState.CARD_SAVED, payment_method_id=pm, **common)
    if setup.status == "canceled":
        return ProviderPayment(PaymentState.RELEASED, **common)
    error = _field(setup, "last_setup_error")
    return ProviderPayment(
        PaymentState.REQUIRES_PAYMENT,
        client_secret=setup.client_secret or "",
        failure=str(_field(error, "message") or "")[:255],
        **common,
    )
