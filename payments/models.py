"""Money: one payment per payable thing, the credit ledger, payout accounts, provider events.

Payments knows no bookings: a payment carries its owner's `reference` (`booking-42`)
and tells the owner of every change through the handlers it registered.
"""

from django.conf import settings
from django.db import models


class PaymentState(models.TextChoices):
    """The payment states a client sees (`payment.status` on the wire)."""

    REQUIRES_PAYMENT = "requires_payment"  # nothing reserved yet: card, 3-D Secure or retry due
    CARD_SAVED = "card_saved"  # a lesson far ahead: authorised off-session nearer the time
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    RELEASED = "released"
    FAILED = "failed"


# The moves a payment may make. Anything else (a late or repeated provider event, a
# settlement racing a webhook) leaves the status alone, so each change happens once.
MOVES: dict[str, set[str]] = {
    PaymentState.REQUIRES_PAYMENT: {
        PaymentState.CARD_SAVED,
        PaymentState.AUTHORIZED,
        PaymentState.CAPTURED,
        PaymentState.RELEASED,
        PaymentState.FAILED,
    },
    PaymentState.CARD_SAVED: {
        PaymentState.REQUIRES_PAYMENT,
        PaymentState.AUTHORIZED,
        PaymentState.RELEASED,
        PaymentState.FAILED,
    },
    PaymentState.FAILED: set(),  # refused at booking: the booking ended with it
    PaymentState.AUTHORIZED: {PaymentState.CAPTURED, PaymentState.RELEASED},
    PaymentState.CAPTURED: {PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED},
    PaymentState.PARTIALLY_REFUNDED: {PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED},
    PaymentState.RELEASED: set(),
    PaymentState.REFUNDED: set(),
}


class Payment(models.Model):
    """What one booking (or other payable thing) costs, and where its money stands."""

    reference = models.CharField(max_length=64, unique=True)
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    # Paid out to this user's connected account, when it is ready (a destination charge).
    payee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments_received",
    )
    description = models.CharField(max_length=255, blank=True, default="")
    amount_cents = models.PositiveIntegerField()  # the price
    credit_cents = models.PositiveIntegerField(default=0)  # of which platform credit covers
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=PaymentState.choices)
    provider = models.CharField(max_length=20)
    intent_id = models.CharField(max_length=255, blank=True, default="")
    client_secret = models.CharField(max_length=255, blank=True, default="")
    setup_intent_id = models.CharField(max_length=255, blank=True, default="")
    customer_id = models.CharField(max_length=255, blank=True, default="")
    payment_method_id = models.CharField(max_length=255, blank=True, default="")
    # A card saved for a lesson far ahead is authorised off-session from this time on.
    authorise_after = models.DateTimeField(null=True, blank=True)
    # After a failed off-session authorisation: the student must pay by then.
    pay_by = models.DateTimeField(null=True, blank=True)
    captured_cents = models.PositiveIntegerField(default=0)
    refunded_cents = models.PositiveIntegerField(default=0)
    fee_cents = models.PositiveIntegerField(default=0)
    failure = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "authorise_after"], name="payment_due_authorise"),
            models.Index(fields=["intent_id"], name="payment_intent"),
            models.Index(fields=["setup_intent_id"], name="payment_setup_intent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=PaymentState.values), name="payment_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(credit_cents__lte=models.F("amount_cents")),
                name="payment_credit_within_price",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment {self.reference} ({self.status})"

    @property
    def charge_cents(self) -> int:
        """What the card is asked for: the price less the credit applied."""
        return self.amount_cents - self.credit_cents


class CreditReason(models.TextChoices):
    INSTRUCTOR_CANCELLED = "instructor_cancelled"  # a lesson cancelled late by its instructor
    STAFF_GRANT = "staff_grant"
    SPENT = "spent"
    RETURNED = "returned"  # a booking paid with credit was released in full


class CreditEntry(models.Model):
    """One line of a user's credit ledger; the balance is the sum. Never changed or deleted."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_entries"
    )
    currency = models.CharField(max_length=3)
    amount_cents = models.IntegerField()  # positive: granted or returned; negative: spent
    reason = models.CharField(max_length=30, choices=CreditReason.choices)
    reference = models.CharField(max_length=64, blank=True, default="")  # e.g. booking-42
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "currency"], name="credit_user_currency")]
        constraints = [
            # A booking is granted, spends and gets back credit at most once per reason.
            models.UniqueConstraint(
                fields=["user", "reason", "reference"],
                condition=~models.Q(reference="") & ~models.Q(reason="staff_grant"),
                name="credit_once_per_reason_and_reference",
            ),
            models.CheckConstraint(
                condition=~models.Q(amount_cents=0), name="credit_entry_not_zero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount_cents:+d} {self.currency} for {self.user_id} ({self.reason})"


class PayoutAccount(models.Model):
    """An instructor's connected account at the provider, and whether it can be paid."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="payout_account",
    )
    account_id = models.CharField(max_length=255, unique=True)
    charges_enabled = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Payout account {self.account_id} of {self.user_id}"

    @property
    def ready(self) -> bool:
        return self.charges_enabled and self.payouts_enabled


class ProviderEvent(models.Model):
    """A webhook event, stored once by the provider's id and processed once."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["processed_at"], name="provider_event_pending")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
