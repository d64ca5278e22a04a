"""The exact requests the Stripe backend sends where localstripe cannot answer (Connect:
accounts, account links, destination charges with the platform fee; idempotency keys;
an off-session refusal carrying its intent). stripe-python sends them over HTTP to a
loopback server of the test's own (tests/stripe_fake.RecordingStripe), which answers
with recorded Stripe objects, trimmed to the fields we read."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments import services
from payments.backends import PaymentError, payment_backend
from payments.models import Payment, PaymentState, PayoutAccount

pytestmark = pytest.mark.django_db

INTENT = {
    "id": "pi_3Q0recorded",
    "object": "payment_intent",
    "amount": 4500,
    "amount_capturable": 4500,
    "amount_received": 0,
    "application_fee_amount": 675,
    "capture_method": "manual",
    "client_secret": "pi_3Q0recorded_secret_abc",
    "currency": "eur",
    "customer": None,
    "latest_charge": "ch_3Q0recorded",
    "payment_method": "pm_1Q0card",
    "status": "requires_capture",
    "transfer_data": {"destination": "acct_1Q0teacher"},
}
ACCOUNT = {
    "id": "acct_1Q0teacher",
    "object": "account",
    "type": "express",
    "charges_enabled": False,
    "payouts_enabled": False,
    "details_submitted": False,
}
LINK = {
    "object": "account_link",
    "created": 1732000000,
    "expires_at": 1732000300,
    "url": "https://connect.stripe.com/setup/e/acct_1Q0teacher/abc",
}
DECLINED_OFF_SESSION = {
    "error": {
        "type": "card_error",
        "code": "authentication_required",
        "decline_code": "authentication_required",
        "message": "Your card was declined. This transaction requires authentication.",
        "payment_intent": {
            **INTENT,
            "id": "pi_3Q0offsession",
            "client_secret": "pi_3Q0offsession_secret_xyz",
            "status": "requires_payment_method",
            "customer": "cus_Q0student",
        },
    }
}


def opened(student, instructor, *, days_ahead=2) -> Payment:
    return services.payment_open(
        reference="test-1", payer_id=student.pk, payee_id=instructor.pk, amount_cents=4500,
        currency="EUR", description="Piano lesson",
        capture_after=timezone.now() + timedelta(days=days_ahead),
    )  # fmt: skip


def ready_account(instructor) -> None:
    PayoutAccount.objects.create(user=instructor, account_id="acct_1Q0teacher",
                                 charges_enabled=True, payouts_enabled=True)  # fmt: skip


def test_a_ready_payee_makes_a_destination_charge_with_the_platform_fee(
    recording_stripe, student, instructor, settings
):
    ready_account(instructor)
    recording_stripe.answers[("POST", "/v1/payment_intents")] = (200, INTENT)
    payment = opened(student, instructor)
    payment = services.payment_authorise(payment_id=payment.pk, payment_method="pm_1Q0card")
    assert (payment.status, payment.intent_id, payment.fee_cents) == (
        "authorized",
        INTENT["id"],
        675,
    )
    [sent] = recording_stripe.requests
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents")
    assert sent.form == {
        "amount": "4500",
        "currency": "eur",
        "capture_method": "manual",
        "metadata[reference]": "test-1",
        "metadata[payment_id]": str(payment.pk),
        "metadata[description]": "Piano lesson",
        "transfer_data[destination]": "acct_1Q0teacher",
        "application_fee_amount": "675",  # 15 % (PAYMENTS_PLATFORM_FEE_BPS=1500) of 4500
        "payment_method": "pm_1Q0card",
        "confirm": "true",
    }
    assert sent.headers["Idempotency-Key"].startswith("test-1-authorise-pm_1Q0card-")
    assert sent.headers["Authorization"] == f"Bearer {settings.STRIPE_SECRET_KEY}"


def test_a_payee_not_ready_yet_is_not_a_destination(recording_stripe, student, instructor):
    PayoutAccount.objects.create(user=instructor, account_id="acct_1Q0teacher",
                                 charges_enabled=True, payouts_enabled=False)  # fmt: skip
    recording_stripe.answers[("POST", "/v1/payment_intents")] = (200, INTENT)
    services.payment_authorise(payment_id=opened(student, instructor).pk)
    [sent] = recording_stripe.requests
    assert "transfer_data[destination]" not in sent.form
    assert "application_fee_amount" not in sent.form
    assert "confirm" not in sent.form


def test_a_retried_request_keeps_its_key_and_a_new_attempt_gets_a_new_one(
    recording_stripe, student, instructor
):
    """A lost answer is asked again with the same key (Stripe answers it once); after a
    recorded outcome, the next attempt must not get the earlier attempt's stored answer."""
    payment = opened(student, instructor)
    backend = payment_backend()
    recording_stripe.answers[("POST", "/v1/payment_intents")] = (500, {"error": {
        "type": "api_error", "message": "An unknown error occurred"}})  # fmt: skip
    with pytest.raises(PaymentError) as failed:
        backend.authorise(payment=payment, payment_method="pm_1Q0card")
    assert not failed.value.declined
    keys = {r.headers["Idempotency-Key"] for r in recording_stripe.requests}
    assert len(recording_stripe.requests) == 3 and len(keys) == 1  # stripe-python's 2 retries
    payment = services.payment_authorise(payment_id=payment.pk, payment_method="pm_1Q0card")
    assert payment.status == PaymentState.FAILED
    recording_stripe.answers[("POST", "/v1/payment_intents")] = (200, INTENT)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentState.REQUIRES_PAYMENT)
    payment.refresh_from_db()
    backend.authorise(payment=payment, payment_method="pm_1Q0card")
    assert recording_stripe.requests[-1].headers["Idempotency-Key"] not in keys


def test_capture_and_refund_send_their_amounts_with_keys(recording_stripe, student, instructor):
    payment = opened(student, instructor)
    Payment.objects.filter(pk=payment.pk).update(status="authorized", intent_id=INTENT["id"])
    captured = {**INTENT, "status": "succeeded", "amount_received": 2250, "latest_charge": {
        "id": "ch_3Q0recorded", "object": "charge", "amount": 4500,
        "amount_captured": 2250, "amount_refunded": 0}}  # fmt: skip
    recording_stripe.answers[("POST", f"/v1/payment_intents/{INTENT['id']}/capture")] = (
        200,
        captured,
    )
    payment = services.payment_capture(payment_id=payment.pk, amount_cents=2250)
    assert (payment.status, payment.captured_cents) == ("captured", 2250)
    recording_stripe.answers[("POST", "/v1/refunds")] = (200, {
        "id": "re_1", "object": "refund", "amount": 1000, "status": "succeeded"})  # fmt: skip
    payment = services.payment_refund(payment_id=payment.pk, amount_cents=1000)
    assert (payment.status, payment.refunded_cents) == ("partially_refunded", 1000)
    capture, refund = recording_stripe.requests
    assert capture.form == {"amount_to_capture": "2250"}
    assert capture.headers["Idempotency-Key"].startswith("test-1-capture-2250-")
    assert refund.form == {"payment_intent": INTENT["id"], "amount": "1000"}
    assert refund.headers["Idempotency-Key"].startswith("test-1-refund-1000-")


def test_an_off_session_refusal_keeps_stripes_intent_for_the_payer_to_confirm(
    recording_stripe, student, instructor
):
    payment = opened(student, instructor, days_ahead=10)
    Payment.objects.filter(pk=payment.pk).update(
        status="card_saved", customer_id="cus_Q0student", payment_method_id="pm_1Q0card"
    )
    recording_stripe.answers[("POST", "/v1/payment_intents")] = (402, DECLINED_OFF_SESSION)
    payment = services.payment_authorise_off_session(payment_id=payment.pk)
    assert payment.status == PaymentState.REQUIRES_PAYMENT and payment.pay_by is not None
    assert (payment.intent_id, payment.client_secret) == (
        "pi_3Q0offsession",
        "pi_3Q0offsession_secret_xyz",
    )
    assert "requires authentication" in payment.failure
    [sent] = recording_stripe.requests  # no second intent: Stripe's failed one is confirmed
    assert sent.form["off_session"] == "true" and sent.form["confirm"] == "true"
    assert (sent.form["customer"], sent.form["payment_method"]) == ("cus_Q0student", "pm_1Q0card")


def test_a_payout_account_is_an_express_account_with_an_onboarding_link(
    recording_stripe, instructor
):
    recording_stripe.answers[("POST", "/v1/accounts")] = (200, ACCOUNT)
    recording_stripe.answers[("POST", "/v1/account_links")] = (200, LINK)
    ready = {**ACCOUNT, "charges_enabled": True, "payouts_enabled": True, "details_submitted": True}
    recording_stripe.answers[("GET", f"/v1/accounts/{ACCOUNT['id']}")] = (200, ready)
    backend = payment_backend()
    account_id = backend.payout_account_create(user=instructor)
    back = "https://lessons.example/instructors/me/payouts"
    url = backend.payout_onboarding_link(account_id=account_id, return_url=back)
    account = backend.payout_account_retrieve(account_id=account_id)
    assert (account_id, url) == (ACCOUNT["id"], LINK["url"])
    assert (account.charges_enabled, account.payouts_enabled, account.details_submitted) == (
        True, True, True)  # fmt: skip
    create, link, read = recording_stripe.requests
    assert create.form == {
        "type": "express",
        "email": instructor.email,
        "capabilities[transfers][requested]": "true",
        "capabilities[card_payments][requested]": "true",
        "metadata[user_id]": str(instructor.pk),
    }
    assert create.headers["Idempotency-Key"] == f"payout-account-user-{instructor.pk}"
    assert link.form == {"account": ACCOUNT["id"], "type": "account_onboarding",
                         "refresh_url": back, "return_url": back}  # fmt: skip
    assert (read.method, read.path) == ("GET", f"/v1/accounts/{ACCOUNT['id']}")


def test_stripe_refusing_a_request_of_ours_is_not_the_payers_card(recording_stripe, instructor):
    recording_stripe.answers[("POST", "/v1/accounts")] = (400, {"error": {
        "type": "invalid_request_error", "message": "Connect is not enabled"}})  # fmt: skip
    with pytest.raises(PaymentError) as refused:
        payment_backend().payout_account_create(user=instructor)
    assert not refused.value.declined and "Connect is not enabled" in str(refused.value)
