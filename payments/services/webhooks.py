"""Stripe webhooks, exactly once: verify the raw body, store the event by its id, process it once.

Processing never trusts the event's copy of an object: it re-reads the object's current
state from Stripe, so late, repeated or reordered deliveries all land on the same truth.
An event that could not be processed (Stripe away) stays stored and is retried by
`payments.provider_events_process` with backoff.
"""

import json
import logging
from datetime import timedelta
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from conventions.errors import BadRequest
from payments.backends import PaymentError, ProviderPayment
from payments.models import Payment, ProviderEvent
from payments.services.intents import payment_record, payment_sync
from payments.services.payouts import payout_account_refresh

logger = logging.getLogger(__name__)

# Stripe's own default: a signature older than this is refused (a replayed delivery).
SIGNATURE_TOLERANCE_SECONDS = 300
# Retries of an unprocessed event: the n-th is due `RETRY_BASE * (2**n - 1)` after receipt,
# so ten attempts span about three and a half days, like Stripe's own redelivery.
RETRY_BASE = timedelta(minutes=5)
MAX_ATTEMPTS = 10

PAYMENT_EVENTS = {
    "payment_intent.amount_capturable_updated",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.succeeded",
    "payment_intent.requires_action",
    "payment_intent.processing",
    "charge.refunded",
    "charge.refund.updated",
    "setup_intent.succeeded",
    "setup_intent.setup_failed",
    "setup_intent.canceled",
}


def stripe_event_verify(*, payload: bytes, signature: str) -> dict[str, Any]:
    """The event in `payload`, if Stripe signed exactly these bytes within the tolerance."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise BadRequest("Webhooks are not configured here (no STRIPE_WEBHOOK_SECRET).")
    if not signature:
        raise BadRequest("The Stripe-Signature header is missing.")
    try:
        text = payload.decode("utf-8")
        # What stripe.Webhook.construct_event checks, without building a StripeObject:
        # we store the event as Stripe sent it.
        stripe.WebhookSignature.verify_header(
            text, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
    except (UnicodeDecodeError, stripe.SignatureVerificationError) as error:
        if "tolerance" in str(error):  # a replay, or our clock is off
            raise BadRequest(
                f"The Stripe signature is older than {SIGNATURE_TOLERANCE_SECONDS} seconds."
            ) from error
        raise BadRequest("The Stripe signature does not match this body.") from error
    try:
        event = json.loads(text)
    except ValueError as error:
        raise BadRequest("The request body is not valid JSON.") from error
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and 0 < len(event["id"]) <= 255
        and isinstance(event.get("type"), str)
        and 0 < len(event["type"]) <= 100
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise BadRequest("The body is not a Stripe event.")
    return event


def provider_event_store(*, event: dict[str, Any]) -> tuple[ProviderEvent, bool]:
    """Store a verified event once by its id; a repeated delivery finds the stored row."""
    return ProviderEvent.objects.get_or_create(
        event_id=event["id"], defaults={"type": event["type"], "payload": event}
    )


def provider_event_receive(*, payload: bytes, signature: str) -> ProviderEvent:
    """The webhook: verify, store, process. Processing errors leave it stored for retries."""
    event = stripe_event_verify(payload=payload, signature=signature)
    stored, _ = provider_event_store(event=event)
    return provider_event_process(event_pk=stored.pk)


def provider_event_process(*, event_pk: int, again: bool = False) -> ProviderEvent:
    """Act on a stored event once: its row stays locked while acting, so a concurrent copy
    waits and then finds it done. `again` re-runs a processed one (harmless: it re-reads)."""
    with transaction.atomic():
        event = ProviderEvent.objects.select_for_update().get(pk=event_pk)
        if event.processed_at is not None and not again:
            return event
        event.attempts += 1
        try:
            with transaction.atomic():
                _act(event.type, event.payload["data"]["object"])
        except PaymentError as error:
            logger.warning("Stripe event %s not processed yet: %s", event.event_id, error)
            event.last_error = str(error)[:500] or type(error).__name__
        except Exception as error:  # a bug must not lose the event: it stays for a retry
            logger.exception("Stripe event %s failed", event.event_id)
            event.last_error = f"{type(error).__name__}: {error}"[:500]
        else:
            event.processed_at = timezone.now()
            event.last_error = ""
        event.save(update_fields=["attempts", "processed_at", "last_error"])
    return event


def provider_events_process(*, limit: int = 100) -> int:
    """Retry the unprocessed events whose backoff has passed; returns how many ran."""
    now = timezone.now()
    due = Q()
    for attempts in range(MAX_ATTEMPTS):
        due |= Q(attempts=attempts, received_at__lte=now - RETRY_BASE * (2**attempts - 1))
    pending = (
        ProviderEvent.objects.filter(due, processed_at__isnull=True)
        .order_by(F("received_at").asc())
        .values_list("pk", flat=True)[:limit]
    )
    ran = 0
    for event_pk in list(pending):
        provider_event_process(event_pk=event_pk)
        ran += 1
    return ran


def _act(event_type: str, obj: dict[str, Any]) -> None:
    if event_type == "account.updated":
        payout_account_refresh(account_id=str(obj.get("id", "")))
    elif event_type in PAYMENT_EVENTS:
        payment = _payment_for(obj)
        if payment is not None:
            payment_sync(payment_id=payment.pk)
    # Any other type is stored and marked processed: nothing of ours depends on it.


def _payment_for(obj: dict[str, Any]) -> Payment | None:
    """Our payment for a PaymentIntent, SetupIntent or Charge; None for one we never made."""
    kind = obj.get("object")
    object_id = str(obj.get("id", ""))
    if kind == "charge":
        intent = obj.get("payment_intent")
        intent_id = str(intent.get("id", "") if isinstance(intent, dict) else intent or "")
        return Payment.objects.filter(intent_id=intent_id).first() if intent_id else None
    field = "setup_intent_id" if kind == "setup_intent" else "intent_id"
    if not object_id:
        return None
    payment = Payment.objects.filter(**{field: object_id}).first()
    if payment is not None:
        return payment
    # An intent whose creation we never recorded (we crashed before storing the answer):
    # the metadata we sent names the payment; take the id (never replacing another one).
    metadata = obj.get("metadata")
    payment = _payment_named(metadata if isinstance(metadata, dict) else {})
    if payment is None or getattr(payment, field):
        return None
    if kind == "setup_intent":
        found = ProviderPayment(payment.status, setup_intent_id=object_id)
    else:
        found = ProviderPayment(payment.status, intent_id=object_id)
    payment_record(payment_id=payment.pk, result=found)
    return payment


def _payment_named(metadata: dict[str, Any]) -> Payment | None:
    payment_id = str(metadata.get("payment_id", ""))
    if payment_id.isdigit():
        return Payment.objects.filter(pk=int(payment_id)).first()
    reference = str(metadata.get("reference", ""))
    return Payment.objects.filter(reference=reference).first() if reference else None
