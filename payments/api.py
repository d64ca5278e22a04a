"""The payments REST router: Stripe's webhook (no user: Stripe's signature is the proof)."""

from django.http import HttpRequest
from ninja import Router, Schema

from payments import services

router = Router(tags=["payments"])


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
