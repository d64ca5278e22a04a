"""The Stripe webhook: real signatures, stored once, processed once, never a 500.

Events here are signed exactly as Stripe signs them (`t=<ts>,v1=HMAC-SHA256(secret,
"t.body")`) and posted as raw bytes. Their objects name no payment of ours, or a payout
account, so the dev backend suffices; payment events against localstripe are in
test_webhooks_stripe.py.
"""

import json
import time

import pytest
import stripe
from django.test import Client
from django.urls import reverse

from payments.models import PayoutAccount, ProviderEvent
from tests.helpers import assert_error, race

pytestmark = pytest.mark.django_db

URL = "/api/v1/payments/stripe/webhook"
SECRET = "whsec_test_webhooks_0123456789"


@pytest.fixture(autouse=True)
def secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    return SECRET


def stripe_event(event_type="payment_intent.succeeded", obj=None, event_id="evt_1") -> bytes:
    obj = obj or {"id": "pi_not_ours", "object": "payment_intent", "status": "succeeded"}
    body = {"id": event_id, "object": "event", "type": event_type, "created": int(time.time()),
            "livemode": False, "api_version": "2024-06-20", "data": {"object": obj}}  # fmt: skip
    return json.dumps(body).encode()


def signed(body: bytes, *, secret=SECRET, timestamp=None) -> str:
    return stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )


def post(body: bytes, signature: str | None = None, client=None):
    headers = {"Stripe-Signature": signature} if signature is not None else {}
    client = client or Client(enforce_csrf_checks=True)  # Stripe sends no CSRF token
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def test_a_signed_event_is_stored_and_processed_once():
    body = stripe_event()
    response = post(body, signed(body))
    assert response.status_code == 200, response.content
    assert response.json() == {"received": True}
    event = ProviderEvent.objects.get()
    assert (event.event_id, event.type) == ("evt_1", "payment_intent.succeeded")
    assert event.payload == json.loads(body)
    # An intent we never made: nothing to do, and no error either.
    assert event.processed_at is not None and event.attempts == 1 and event.last_error == ""


def test_an_event_type_we_ignore_is_stored_and_answered():
    body = stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, "evt_c")
    assert post(body, signed(body)).json() == {"received": True}
    assert ProviderEvent.objects.get().processed_at is not None


@pytest.mark.parametrize(
    "signature",
    [
        None,  # no header
        "",
        "t=1,v1=00",
        "nonsense",
        "v1=" + "0" * 64,  # no timestamp
    ],
)
def test_a_missing_or_malformed_signature_is_refused(signature):
    body = stripe_event()
    assert_error(post(body, signature), 400, "bad_request")
    assert not ProviderEvent.objects.exists()


def test_a_signature_with_another_secret_or_over_other_bytes_is_refused():
    body = stripe_event()
    error = assert_error(post(body, signed(body, secret="whsec_other")), 400, "bad_request")
    assert "does not match" in error["message"]
    tampered = body.replace(b"succeeded", b"canceled")
    assert_error(post(tampered, signed(body)), 400, "bad_request")
    # The same JSON, re-serialised: the signature covers bytes, not meaning.
    reformatted = json.dumps(json.loads(body), indent=2).encode()
    assert_error(post(reformatted, signed(body)), 400, "bad_request")
    assert not ProviderEvent.objects.exists()


def test_a_stale_signature_is_refused_and_a_fresh_one_accepted():
    body = stripe_event()
    stale = signed(body, timestamp=int(time.time()) - 301)
    error = assert_error(post(body, stale), 400, "bad_request")
    assert "older than 300 seconds" in error["message"]
    assert not ProviderEvent.objects.exists()
    assert post(body, signed(body, timestamp=int(time.time()) - 250)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[]",
        b'"evt"',
        b'{"id": "evt_1"}',
        b'{"id": 1, "type": "x", "data": {}}',
        '{"id": "evt_\u00e9"'.encode(),
        b"\xff\xfe",
    ],
)
def test_a_signed_body_that_is_not_an_event_is_refused(body):
    signature = signed(body) if body != b"\xff\xfe" else f"t={int(time.time())},v1=00"
    assert_error(post(body, signature), 400, "bad_request")
    assert not ProviderEvent.objects.exists()


def test_without_a_configured_secret_every_event_is_refused(settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = stripe_event()
    for signature in (signed(body), signed(body, secret=""), None):
        assert_error(post(body, signature), 400, "bad_request")
    assert not ProviderEvent.objects.exists()


def test_a_body_over_the_limit_is_413(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = stripe_event(obj={"id": "pi_x", "object": "payment_intent", "pad": "x" * 2000})
    assert_error(post(body, signed(body)), 413, "too_large")
    assert not ProviderEvent.objects.exists()


def test_a_repeated_delivery_is_stored_once_and_processed_once():
    body = stripe_event()
    for _ in range(3):  # Stripe redelivers with a fresh signature each time
        assert post(body, signed(body)).json() == {"received": True}
    event = ProviderEvent.objects.get()
    assert event.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_one_event_are_stored_and_processed_once():
    body = stripe_event()
    signature = signed(body)
    answers = race([lambda: post(body, signature).status_code for _ in range(6)])
    assert answers == [200] * 6
    event = ProviderEvent.objects.get()
    assert event.attempts == 1 and event.processed_at is not None


def test_account_updated_refreshes_the_payout_account_from_the_provider(make_user):
    instructor = make_user("instructor")
    account = PayoutAccount.objects.create(user=instructor, account_id="dev_acct_1")
    assert not account.ready
    # The event's copy says nothing is enabled yet; the provider (dev: always ready) is current.
    obj = {"id": "dev_acct_1", "object": "account", "charges_enabled": False,
           "payouts_enabled": False, "details_submitted": False}  # fmt: skip
    body = stripe_event("account.updated", obj, "evt_acct")
    assert post(body, signed(body)).status_code == 200
    account.refresh_from_db()
    assert account.ready and account.details_submitted
    unknown = stripe_event("account.updated", {**obj, "id": "acct_not_ours"}, "evt_acct_2")
    assert post(unknown, signed(unknown)).status_code == 200
    assert ProviderEvent.objects.filter(processed_at__isnull=False).count() == 2


def test_the_webhook_is_in_the_openapi_document_without_auth(client):
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"][URL]["post"]
    assert "security" not in operation or operation["security"] == [{}] or not operation["security"]
    assert operation["parameters"][0]["name"] == "Stripe-Signature"


def test_the_admin_lists_events_and_processes_them_again(admin_client):
    body = stripe_event()
    post(body, signed(body))
    event = ProviderEvent.objects.get()
    changelist = reverse("admin:payments_providerevent_changelist")
    page = admin_client.get(changelist)
    assert page.status_code == 200 and b"evt_1" in page.content
    change = reverse("admin:payments_providerevent_change", args=[event.pk])
    assert admin_client.get(change).status_code == 200
    response = admin_client.post(
        changelist, {"action": "process_again", "_selected_action": [event.pk]}, follow=True
    )
    assert response.status_code == 200
    assert b"Processed 1 event(s) again; 0 failed." in response.content
    event.refresh_from_db()
    assert event.attempts == 2 and event.processed_at is not None
