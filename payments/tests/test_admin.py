"""Admin for payments, the credit ledger and payout accounts: pages render, the actions go
through the services with one message per row, and the ledger is append-only."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from payments import backends, services
from payments.backends import DevBackend, PaymentError
from payments.models import CreditEntry, CreditReason, Payment, PaymentState, PayoutAccount

pytestmark = pytest.mark.django_db


def payment(student, status=PaymentState.AUTHORIZED, reference="test-1", **fields) -> Payment:
    taken = status in (PaymentState.CAPTURED, PaymentState.PARTIALLY_REFUNDED)
    fields.setdefault("captured_cents", 5000 if taken else 0)
    return Payment.objects.create(
        reference=reference,
        payer=student,
        amount_cents=5000,
        currency="EUR",
        status=status,
        provider="dev",
        intent_id="dev_pi_1",
        **fields,
    )


def act(admin_client, action, *payments) -> list[str]:
    response = admin_client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": action, "_selected_action": [p.pk for p in payments]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_pages_render_and_nothing_is_edited_by_hand(admin_client, student, instructor):
    paid = payment(student)
    entry = services.credit_grant(
        user_id=student.pk, currency="EUR", amount_cents=100, reason=CreditReason.STAFF_GRANT
    )
    account = PayoutAccount.objects.create(user=instructor, account_id="acct_1")
    for model, obj in [(Payment, paid), (CreditEntry, entry), (PayoutAccount, account)]:
        name = f"admin:payments_{model._meta.model_name}"
        assert admin_client.get(reverse(f"{name}_changelist")).status_code == 200
        page = admin_client.get(reverse(f"{name}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert (b'name="_save"' in page.content) == (model is Payment)  # its fields read-only
        assert admin_client.get(reverse(f"{name}_delete", args=[obj.pk])).status_code == 403
    assert admin_client.get(reverse("admin:payments_payment_add")).status_code == 403
    assert admin_client.get(reverse("admin:payments_payoutaccount_add")).status_code == 403
    assert admin_client.get(reverse("admin:payments_creditentry_add")).status_code == 200
    changed = admin_client.post(
        reverse("admin:payments_creditentry_change", args=[entry.pk]),
        {"user": student.pk, "currency": "EUR", "amount_cents": 999, "note": "more"},
    )
    assert changed.status_code == 403
    entry.refresh_from_db()
    assert entry.amount_cents == 100


def test_search_finds_a_payment_by_reference_intent_or_e_mail(admin_client, student):
    payment(student, reference="booking-4242")
    url = reverse("admin:payments_payment_changelist")
    for query in ("booking-4242", "dev_pi_1", student.email):
        assert b"booking-4242" in admin_client.get(url, {"q": query}).content, query
    assert b"booking-4242" not in admin_client.get(url, {"q": "nobody"}).content


def test_staff_grant_goes_through_the_ledger(admin_client, student):
    response = admin_client.post(
        reverse("admin:payments_creditentry_add"),
        {"user": student.pk, "currency": "eur", "amount_cents": 2500, "note": "Goodwill"},
    )
    assert response.status_code == 302, response.content
    entry = CreditEntry.objects.get()
    assert (entry.user, entry.currency, entry.amount_cents, entry.reason, entry.note) == (
        student,
        "EUR",
        2500,
        CreditReason.STAFF_GRANT,
        "Goodwill",
    )
    assert entry.actor.email == "root@example.com"
    assert services.credit_balance(user_id=student.pk, currency="EUR") == 2500


@pytest.mark.parametrize(
    "fields",
    [
        {"amount_cents": 0, "note": "x"},
        {"amount_cents": -500, "note": "x"},
        {"amount_cents": 100, "note": ""},
        {"amount_cents": 100, "note": "bad\x07note"},
        {"amount_cents": 100, "note": "x", "currency": "EURO"},
    ],
)
def test_a_grant_that_is_not_positive_or_has_no_reason_is_refused(admin_client, student, fields):
    body = {"user": student.pk, "currency": "EUR", **fields}
    response = admin_client.post(reverse("admin:payments_creditentry_add"), body)
    assert response.status_code == 200  # the form again, with its errors
    assert not CreditEntry.objects.exists()


def test_actions_say_what_happened_to_each_payment(admin_client, student):
    held = payment(student, reference="test-held")
    captured = payment(student, PaymentState.CAPTURED, reference="test-captured")
    said = act(admin_client, "release_payments", held, captured)
    assert said == [
        "test-held: authorized → released.",
        "test-captured: a captured payment cannot be released.",
    ]
    said = act(admin_client, "refund_payments", held, captured)
    assert said == [
        "test-held: a released payment cannot be refunded.",
        "test-captured: captured → refunded.",
    ]
    assert act(admin_client, "sync_payments", held) == ["test-held: still released."]
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_cents) == ("refunded", 5000)


def test_refund_in_full_of_a_credit_paid_payment_gives_the_credit_back(admin_client, student):
    services.credit_grant(
        user_id=student.pk, currency="EUR", amount_cents=2000, reason=CreditReason.STAFF_GRANT
    )
    paid = services.payment_open(
        reference="test-credit",
        payer_id=student.pk,
        payee_id=None,
        amount_cents=2000,
        currency="EUR",
        description="A lesson",
        capture_after=timezone.now(),
    )
    paid = services.payment_capture(payment_id=paid.pk, amount_cents=2000)
    assert (paid.status, paid.captured_cents) == ("captured", 0)
    assert services.credit_balance(user_id=student.pk, currency="EUR") == 0
    assert act(admin_client, "refund_payments", paid) == ["test-credit: captured → refunded."]
    assert act(admin_client, "refund_payments", paid) == [
        "test-credit: a refunded payment cannot be refunded."
    ]
    assert services.credit_balance(user_id=student.pk, currency="EUR") == 2000


class AwayBackend(DevBackend):
    name = "away"

    def retrieve(self, **kwargs):
        raise PaymentError("connection refused")

    release = refund = retrieve


def test_a_provider_that_does_not_answer_is_a_message_not_an_error_page(
    admin_client, student, settings, monkeypatch
):
    monkeypatch.setitem(backends.BACKENDS, "away", f"{__name__}.AwayBackend")
    settings.PAYMENTS_BACKEND = "away"
    backends.payment_backend.cache_clear()
    try:
        held = payment(student, reference="test-held")
        captured = payment(student, PaymentState.CAPTURED, reference="test-captured")
        for action, target in [
            ("sync_payments", held),
            ("release_payments", held),
            ("refund_payments", captured),
        ]:
            said = act(admin_client, action, target)
            assert said == [
                f"{target.reference}: the provider did not answer (connection refused); try again."
            ], action
    finally:
        backends.payment_backend.cache_clear()
    held.refresh_from_db()
    captured.refresh_from_db()
    assert (held.status, captured.status) == ("authorized", "captured")
