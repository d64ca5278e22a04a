"""Admin for payments, the credit ledger and payout accounts.

Money moves only through the services: a payment's fields are read-only and its
actions call payment_sync, payment_release and payment_refund row by row, saying what
each did (a provider that does not answer is a message, never an error page). A credit
entry added here is a staff grant through credit_grant; entries are never changed.
"""

from django import forms
from django.contrib import admin, messages

from conventions.errors import ServiceError
from payments import services
from payments.backends import PaymentError
from payments.models import (
    CreditEntry,
    CreditReason,
    Payment,
    PaymentState,
    PayoutAccount,
    ProviderEvent,
)
from payments.services.intents import RELEASABLE


class ReadOnlyAdmin(admin.ModelAdmin):
    """What the provider or the ledger decides: shown to staff, never edited by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (
        "reference",
        "payer",
        "status",
        "amount_cents",
        "credit_cents",
        "captured_cents",
        "refunded_cents",
        "currency",
        "provider",
        "intent_id",
        "created_at",
    )
    list_filter = ("status", "provider", "currency")
    search_fields = ("reference", "intent_id", "payer__email")
    list_select_related = ("payer",)
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Payment._meta.fields]
    actions = ["sync_payments", "release_payments", "refund_payments"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _each(self, request, queryset, verb: str, move) -> None:
        """Run `move(payment)` on every row; one message per row, whatever happens."""
        for payment in queryset.order_by("pk"):
            before = payment.status
            try:
                after = move(payment)
            except PaymentError as error:
                self.message_user(
                    request,
                    f"{payment.reference}: the provider did not answer ({error}); try again.",
                    messages.ERROR,
                )
                continue
            except ServiceError as error:
                self.message_user(request, f"{payment.reference}: {error}", messages.WARNING)
                continue
            if after is None:
                self.message_user(
                    request,
                    f"{payment.reference}: a {before} payment cannot be {verb}.",
                    messages.WARNING,
                )
            elif after.status == before:
                self.message_user(request, f"{payment.reference}: still {after.status}.")
            else:
                self.message_user(
                    request, f"{payment.reference}: {before} → {after.status}.", messages.SUCCESS
                )

    @admin.action(
        description="Re-read the selected payments from the provider", permissions=["change"]
    )
    def sync_payments(self, request, queryset) -> None:
        self._each(request, queryset, "re-read", lambda p: services.payment_sync(payment_id=p.pk))

    @admin.action(
        description="Release the selected payments (give back what is held)", permissions=["change"]
    )
    def release_payments(self, request, queryset) -> None:
        def release(payment: Payment) -> Payment | None:
            if payment.status not in RELEASABLE:
                return None
            return services.payment_release(payment_id=payment.pk)

        self._each(request, queryset, "released", release)

    @admin.action(description="Refund the selected payments in full", permissions=["change"])
    def refund_payments(self, request, queryset) -> None:
        def refund(payment: Payment) -> Payment | None:
            if payment.status not in (PaymentState.CAPTURED, PaymentState.PARTIALLY_REFUNDED):
                return None
            left = payment.captured_cents - payment.refunded_cents
            return services.payment_refund(payment_id=payment.pk, amount_cents=left)

        self._each(request, queryset, "refunded", refund)


class CreditGrantForm(forms.ModelForm):
    """What staff fill in to grant credit: who, how much, in what currency, and why."""

    amount_cents = forms.IntegerField(min_value=1, max_value=10_000_000)
    currency = forms.RegexField(regex=r"^[A-Za-z]{3}$", max_length=3)
    note = forms.CharField(max_length=255, help_text="Why: the student sees this note.")

    class Meta:
        model = CreditEntry
        fields = ("user", "currency", "amount_cents", "note")

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].upper()

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if any(ord(c) < 32 or ord(c) == 127 for c in note):
            raise forms.ValidationError("A single line, without control characters.")
        return note


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    """The ledger, append-only: adding an entry is a staff grant; nothing is ever edited."""

    form = CreditGrantForm
    list_display = ("id", "user", "amount_cents", "currency", "reason", "reference", "actor",
                    "created_at")  # fmt: skip
    list_filter = ("reason", "currency")
    search_fields = ("user__email", "reference", "note")
    list_select_related = ("user", "actor")
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in CreditEntry._meta.fields]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "currency", "amount_cents", "note")
        return [f.name for f in CreditEntry._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        """Not a row written here: the grant goes through the ledger's service."""
        data = form.cleaned_data
        entry = services.credit_grant(
            user_id=data["user"].pk,
            currency=data["currency"],
            amount_cents=data["amount_cents"],
            reason=CreditReason.STAFF_GRANT,
            actor=request.user,
            note=data["note"],
        )
        if entry is None:  # never: staff grants are not once-per-reference
            return
        obj.pk, obj.reason, obj.actor = entry.pk, entry.reason, entry.actor
        obj.created_at = entry.created_at


@admin.register(PayoutAccount)
class PayoutAccountAdmin(ReadOnlyAdmin):
    list_display = ("user", "account_id", "charges_enabled", "payouts_enabled",
                    "details_submitted", "updated_at")  # fmt: skip
    list_filter = ("charges_enabled", "payouts_enabled", "details_submitted")
    search_fields = ("user__email", "account_id")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in PayoutAccount._meta.fields]


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdmin):
    """Stripe's events as received: read-only; "process again" re-reads their objects."""

    list_display = ("type", "event_id", "received_at", "processed_at", "attempts", "last_error")
    list_filter = ("type", ("processed_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "type")
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in ProviderEvent._meta.fields]
    actions = ["process_again"]

    def has_process_permission(self, request) -> bool:
        """Re-processing writes (payments, bookings): it takes the right to change events."""
        return request.user.has_perm("payments.change_providerevent")

    @admin.action(
        description="Process again (re-reads each object's current state)",
        permissions=["process"],
    )
    def process_again(self, request, queryset):
        failed = 0
        for event_pk in queryset.values_list("pk", flat=True):
            event = services.provider_event_process(event_pk=event_pk, again=True)
            if event.last_error:
                failed += 1
                self.message_user(request, f"{event}: {event.last_error}", messages.WARNING)
        done = queryset.count() - failed
        self.message_user(request, f"Processed {done} event(s) again; {failed} failed.")
