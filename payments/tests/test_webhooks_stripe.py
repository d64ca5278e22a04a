"""Stripe webhooks against a real (fake) Stripe: localstripe over HTTP, or recorded Stripe
objects for what localstripe lacks. Events are built from the object as Stripe has it now
(localstripe never sends amount_capturable_updated, canceled, charge.refunded,
setup_intent.succeeded or account.updated), signed like Stripe, posted raw; the booking
moves through bookings' real handler.
"""

import json
import time
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
import stripe
from django.test import Client

from bookings.models import Booking
from conventions.times import iso_z
from payments import services, tasks
from payments.models import Payment, PayoutAccount, ProviderEvent
from tests.helpers import events_on, lesson_service, next_free_start, race
from tests.live import free_port
from tests.stripe_fake import CARD_NEEDS_AUTHENTICATION, SECRET_KEY

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/payments/stripe/webhook"
SECRET = "whsec_test_webhooks_stripe"
counter = iter(range(1, 1_000_000))


@pytest.fixture(autouse=True)
def secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET


@pytest.fixture
def service(instructor):
    return lesson_service(instructor)


def deliver(event_type: str, obj, *, event_id: str | None = None) -> tuple[str, object]:
    """Post `obj` (a StripeObject or dict) as Stripe would: a signed event; (id, response)."""
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    event_id = event_id or f"evt_test_{next(counter)}_{time.time_ns()}"
    body = json.dumps({"id": event_id, "object": "event", "type": event_type,
                       "created": int(time.time()), "data": {"object": data}})  # fmt: skip
    header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
    response = Client().post(
        URL, data=body, content_type="application/json", headers={"Stripe-Signature": header}
    )
    assert response.status_code == 200, response.content
    return event_id, response


def book(as_student, service, *, days_ahead: int = 1, **extra) -> Booking:
    start = next_free_start(service, days_ahead=days_ahead)
    body = {"service_id": service.pk, "start": iso_z(start), "location_type": "online", **extra}
    response = as_student.call("post", "/api/v1/bookings", body)
    assert response.status_code == 201, response.content
    return Booking.objects.select_related("payment").get(pk=response.json()["id"])


def authenticate(localstripe, payment: Payment, *, success: bool = True):
    """The student completes (or fails) 3-D Secure: localstripe's test route."""
    form = urllib.parse.urlencode(
        {"client_secret": payment.client_secret, "success": "true" if success else "false"}
    ).encode()
    request = urllib.request.Request(
        f"{localstripe.url}/v1/payment_intents/{payment.intent_id}/_authenticate",
        data=form,
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def booked_needing_action(stripe_backend, as_student, service) -> Booking:
    card = stripe_backend.card(CARD_NEEDS_AUTHENTICATION)
    booking = book(as_student, service, payment_method=card)
    assert booking.status == "pending_payment"
    assert booking.payment.status == "requires_payment" and booking.payment.client_secret
    assert stripe_backend.intent(booking.payment.intent_id).status == "requires_action"
    return booking


def payment_events(user) -> list[str]:
    return [t for t, _ in events_on(f"user:{user.pk}") if t.startswith("payment.")]


def test_after_3d_secure_the_capturable_event_confirms_the_booking(
    stripe_backend, as_student, student, service
):
    booking = booked_needing_action(stripe_backend, as_student, service)
    authenticate(stripe_backend, booking.payment)
    intent = stripe_backend.intent(booking.payment.intent_id)
    assert intent.status == "requires_capture"
    event_id, _ = deliver("payment_intent.amount_capturable_updated", intent)
    booking.refresh_from_db()
    booking.payment.refresh_from_db()
    assert (booking.status, booking.payment.status) == ("confirmed", "authorized")
    types = [t for t, _ in events_on(f"user:{student.pk}")]
    assert types.count("booking.confirmed") == 1 and types.count("payment.authorized") == 1
    assert ProviderEvent.objects.get(event_id=event_id).processed_at is not None
    # Stripe delivers it again: stored once, nothing moves again, nobody hears it twice.
    deliver("payment_intent.amount_capturable_updated", intent, event_id=event_id)
    assert ProviderEvent.objects.filter(event_id=event_id).get().attempts == 1
    assert payment_events(student) == ["payment.authorized"]


def test_concurrent_copies_confirm_once(stripe_backend, as_student, student, service):
    booking = booked_needing_action(stripe_backend, as_student, service)
    authenticate(stripe_backend, booking.payment)
    intent = stripe_backend.intent(booking.payment.intent_id).to_dict()
    event_id = f"evt_race_{time.time_ns()}"
    race([lambda: deliver("payment_intent.amount_capturable_updated", intent,
                          event_id=event_id) for _ in range(5)])  # fmt: skip
    event = ProviderEvent.objects.get(event_id=event_id)
    assert event.attempts == 1 and event.processed_at is not None
    booking.refresh_from_db()
    assert booking.status == "confirmed"
    types = [t for t, _ in events_on(f"user:{student.pk}")]
    assert types.count("booking.confirmed") == 1 and types.count("payment.authorized") == 1


def test_two_different_events_of_one_intent_racing_move_it_once(
    stripe_backend, as_student, student, service
):
    booking = booked_needing_action(stripe_backend, as_student, service)
    authenticate(stripe_backend, booking.payment)
    intent = stripe_backend.intent(booking.payment.intent_id).to_dict()
    race([lambda: deliver("payment_intent.amount_capturable_updated", intent),
          lambda: deliver("payment_intent.requires_action", intent)])  # fmt: skip
    assert payment_events(student) == ["payment.authorized"]
    assert ProviderEvent.objects.filter(processed_at__isnull=False).count() == 2


def test_captured_at_stripe_before_we_heard_it_was_authorised(
    stripe_backend, as_student, student, service
):
    """succeeded arrives first, then the older amount_capturable_updated: the payment
    lands on Stripe's current state (captured) at once and the late event moves nothing."""
    booking = booked_needing_action(stripe_backend, as_student, service)
    authenticate(stripe_backend, booking.payment)
    capturable = stripe_backend.intent(booking.payment.intent_id).to_dict()
    captured = stripe_backend.client.v1.payment_intents.capture(booking.payment.intent_id)
    deliver("payment_intent.succeeded", captured)
    deliver("payment_intent.amount_capturable_updated", capturable)
    booking.payment.refresh_from_db()
    assert (booking.payment.status, booking.payment.captured_cents) == ("captured", 4500)
    assert payment_events(student) == ["payment.captured"]


def test_cancelled_at_stripe_before_we_heard_it_was_authorised(
    stripe_backend, as_student, student, service
):
    booking = booked_needing_action(stripe_backend, as_student, service)
    authenticate(stripe_backend, booking.payment)
    capturable = stripe_backend.intent(booking.payment.intent_id).to_dict()
    canceled = stripe_backend.client.v1.payment_intents.cancel(booking.payment.intent_id)
    deliver("payment_intent.canceled", canceled)
    deliver("payment_intent.amount_capturable_updated", capturable)
    booking.refresh_from_db()
    booking.payment.refresh_from_db()
    assert booking.payment.status == "released"
    assert booking.status != "confirmed"
    assert payment_events(student) == ["payment.released"]


def test_a_failed_3d_secure_leaves_the_booking_waiting_for_another_card(
    stripe_backend, as_student, student, service
):
    booking = booked_needing_action(stripe_backend, as_student, service)
    authenticate(stripe_backend, booking.payment, success=False)
    intent = stripe_backend.intent(booking.payment.intent_id)
    assert intent.status == "requires_payment_method"
    event_id, _ = deliver("payment_intent.payment_failed", intent)
    booking.refresh_from_db()
    booking.payment.refresh_from_db()
    # Stripe's intent waits for another card: so does the payment, within the booking's hold.
    assert (booking.status, booking.payment.status) == ("pending_payment", "requires_payment")
    assert ProviderEvent.objects.get(event_id=event_id).processed_at is not None


def test_a_card_saved_for_a_lesson_far_ahead_confirms_on_setup_intent_succeeded(
    stripe_backend, as_student, student, service, settings
):
    settings.PAYMENTS_AUTHORISATION_WINDOW_DAYS = 2
    booking = book(as_student, service, days_ahead=5)
    payment = booking.payment
    assert (booking.status, payment.status) == ("pending_payment", "requires_payment")
    assert payment.setup_intent_id and not payment.intent_id
    setup = stripe_backend.confirm_setup_in_browser(payment.setup_intent_id)
    assert setup.status == "succeeded"
    deliver("setup_intent.succeeded", setup)
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert (booking.status, payment.status) == ("confirmed", "card_saved")
    assert payment.payment_method_id
    assert payment_events(student) == ["payment.card_saved"]


def test_an_intent_we_never_recorded_is_found_by_its_metadata(
    stripe_backend, as_student, student, service
):
    """We crashed between Stripe's answer and our commit: the intent's metadata names the
    payment, its id is recorded and its state taken."""
    booking = booked_needing_action(stripe_backend, as_student, service)
    intent_id = booking.payment.intent_id
    Payment.objects.filter(pk=booking.payment.pk).update(intent_id="", client_secret="")
    authenticate(stripe_backend, Payment(intent_id=intent_id,
                                         client_secret=booking.payment.client_secret))  # fmt: skip
    deliver("payment_intent.amount_capturable_updated", stripe_backend.intent(intent_id))
    booking.payment.refresh_from_db()
    assert (booking.payment.intent_id, booking.payment.status) == (intent_id, "authorized")


def test_an_intent_that_is_not_ours_is_stored_and_marked_processed(stripe_backend):
    pm = stripe_backend.card()
    intent = stripe_backend.client.v1.payment_intents.create(
        params={"amount": 700, "currency": "eur", "payment_method": pm, "confirm": True}
    )
    event_id, _ = deliver("payment_intent.succeeded", intent)
    event = ProviderEvent.objects.get(event_id=event_id)
    assert event.processed_at is not None and event.last_error == ""
    assert not Payment.objects.exists()


def test_while_stripe_is_away_the_event_is_kept_and_the_beat_task_retries_it(
    stripe_backend, as_student, student, service, settings
):
    booking = booked_needing_action(stripe_backend, as_student, service)
    authenticate(stripe_backend, booking.payment)
    intent = stripe_backend.intent(booking.payment.intent_id)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    from payments.backends import payment_backend

    payment_backend.cache_clear()
    event_id, _ = deliver("payment_intent.amount_capturable_updated", intent)
    event = ProviderEvent.objects.get(event_id=event_id)
    assert event.processed_at is None and event.attempts == 1 and event.last_error
    booking.refresh_from_db()
    assert booking.status == "pending_payment"

    settings.STRIPE_API_BASE = stripe_backend.url  # Stripe is back
    payment_backend.cache_clear()
    assert tasks.provider_events_process.apply().get() == 0  # its backoff has not passed
    ProviderEvent.objects.filter(pk=event.pk).update(
        received_at=event.received_at - timedelta(minutes=6)
    )
    assert tasks.provider_events_process.apply().get() == 1
    event.refresh_from_db()
    assert event.processed_at is not None and event.attempts == 2 and event.last_error == ""
    booking.refresh_from_db()
    assert booking.status == "confirmed"
    assert payment_events(student) == ["payment.authorized"]
    assert tasks.provider_events_process.apply().get() == 0  # done: never again


# --- objects localstripe cannot hold: recorded Stripe objects --------------------------


def recorded_intent(intent_id: str, *, amount: int, refunded: int) -> dict:
    charge = {
        "id": "ch_1", "object": "charge", "amount": amount, "amount_captured": amount,
        "amount_refunded": refunded, "payment_intent": intent_id, "refunded": False,
    }  # fmt: skip
    return {
        "id": intent_id, "object": "payment_intent", "status": "succeeded", "amount": amount,
        "amount_received": amount, "latest_charge": charge, "client_secret": "s", "metadata": {},
    }  # fmt: skip


def test_charge_refunded_records_a_partial_then_a_full_refund(recording_stripe, make_user, student):
    payment = Payment.objects.create(
        reference="test-refund", payer=student, amount_cents=4500, currency="EUR",
        status="captured", provider="stripe", intent_id="pi_refund", captured_cents=4500,
    )  # fmt: skip
    path = ("GET", "/v1/payment_intents/pi_refund")
    recording_stripe.answers[path] = (200, recorded_intent("pi_refund", amount=4500, refunded=1500))
    charge = recorded_intent("pi_refund", amount=4500, refunded=1500)["latest_charge"]
    deliver("charge.refunded", charge)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_cents) == ("partially_refunded", 1500)
    recording_stripe.answers[path] = (200, recorded_intent("pi_refund", amount=4500, refunded=4500))
    deliver("charge.refunded", {**charge, "amount_refunded": 4500, "refunded": True})
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_cents) == ("refunded", 4500)
    assert [r.path for r in recording_stripe.requests] == [path[1], path[1]]


def test_account_updated_takes_the_accounts_current_flags(recording_stripe, make_user):
    instructor = make_user("instructor")
    PayoutAccount.objects.create(user=instructor, account_id="acct_1")
    current = {"id": "acct_1", "object": "account", "charges_enabled": True,
               "payouts_enabled": True, "details_submitted": True}  # fmt: skip
    recording_stripe.answers[("GET", "/v1/accounts/acct_1")] = (200, current)
    # The event's own copy is older (not yet enabled): the account as it is now wins.
    deliver("account.updated", {**current, "charges_enabled": False, "payouts_enabled": False})
    account = PayoutAccount.objects.get()
    assert account.ready and account.details_submitted
    assert services.payout_account_refresh(account_id="acct_unknown") is None


def test_concurrent_copies_ask_stripe_once(recording_stripe, student):
    """Processed once, not just moved once: while one copy acts (re-reading the intent),
    the others wait on the event's row and then find it processed."""
    payment = Payment.objects.create(
        reference="test-race", payer=student, amount_cents=4500, currency="EUR",
        status="requires_payment", provider="stripe", intent_id="pi_race",
    )  # fmt: skip
    intent = {"id": "pi_race", "object": "payment_intent", "status": "requires_capture",
              "amount": 4500, "client_secret": "s", "metadata": {}}  # fmt: skip
    recording_stripe.answers[("GET", "/v1/payment_intents/pi_race")] = (200, intent)
    event_id = f"evt_race_{time.time_ns()}"
    race([lambda: deliver("payment_intent.amount_capturable_updated", intent,
                          event_id=event_id) for _ in range(8)])  # fmt: skip
    assert [r.path for r in recording_stripe.requests] == ["/v1/payment_intents/pi_race"]
    payment.refresh_from_db()
    assert payment.status == "authorized"
    assert ProviderEvent.objects.get(event_id=event_id).attempts == 1
