"""The payments REST router: the caller's credit, an instructor's payout onboarding, and
Stripe's webhook (no user: Stripe's signature is the proof)."""

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema

from accounts.auth import AuthedRequest
from conventions.pagination import Limit
from payments import selectors, services
from payments.schemas import CreditsOut, OnboardingOut
from payments.shapes import credit_entry_data

router = Router(tags=["payments"])


@router.get("/credits", response=CreditsOut)
def credits_get(request: AuthedRequest, cursor: str | None = None, limit: int = Limit):
    """The caller's credit balance per currency, and their ledger entries, newest first."""
    user_id = request.auth.pk
    page, next_cursor = selectors.credit_entry_list(user_id=user_id, cursor=cursor, limit=limit)
    return {
        "balances": [
            {"currency": currency, "amount_cents": amount}
            for currency, amount in selectors.credit_balances(user_id=user_id)
        ],
        "items": [credit_entry_data(entry) for entry in page],
        "next_cursor": next_cursor,
    }


# Under /instructors/ like the rest of an instructor's own settings, but payments' own.
@router.post("/instructors/me/payouts/onboarding", response=OnboardingOut)
def payout_onboarding(request: AuthedRequest):
    """The link where the instructor gives the provider what it needs to pay them out;
    their connected account is opened the first time."""
    return_url = settings.PAYOUTS_RETURN_URL or request.build_absolute_uri("/")
    return {"url": services.payout_onboarding_start(user=request.auth, return_url=return_url)}


class ReceivedOut(Schema):
    received: bool


# The body is read raw (the signature covers its exact bytes), so it is documented here.
WEBHOOK_OPENAPI = {
    "parameters": [
        {
            "in": "header",
            "name": "Stripe-Signature",
            "required": True,
            "schema": {"type": "string"},
            "description": "t=<unix time>,v1=<HMAC-SHA256 of `t.body` with the endpoint secret>",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


@router.post(
    "/payments/stripe/webhook",
    auth=None,
    response=ReceivedOut,
    openapi_extra=WEBHOOK_OPENAPI,
    summary="Stripe webhook",
)
def stripe_webhook(request: HttpRequest):
    """Stripe's events: verified, stored once, processed once; 200 once stored."""
    services.provider_event_receive(
        payload=request.body, signature=request.headers.get("Stripe-Signature", "")
    )
    return {"received": True}
