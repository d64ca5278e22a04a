"""The payments REST router: the caller's credit, and an instructor's payout onboarding."""

from django.conf import settings
from ninja import Router

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
