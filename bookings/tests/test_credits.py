"""Platform credit through the booking's life, over REST: spent first, returned on a full
release, granted once when an instructor cancels late, never spent below zero."""

from datetime import time

import pytest

from bookings import services as booking_services
from bookings.due import booking_ids_to_settle
from bookings.models import Booking
from conventions.times import iso_z
from payments import backends
from payments.backends import DevBackend, PaymentError
from payments.models import CreditEntry, CreditReason, Payment
from payments.services import credit_balance, credit_grant
from tests.helpers import ApiClient, assert_error, next_free_start, race


def grant(user, cents):
    credit_grant(
        user_id=user.pk,
        currency="EUR",
        amount_cents=cents,
        reason=CreditReason.STAFF_GRANT,
        note="welcome",
    )


def book(client, service, start=None):
    body = {
        "service_id": service.pk,
        "location_type": "online",
        "start": iso_z(start or next_free_start(service, days_ahead=2)),
    }
    return client.call("post", "/api/v1/bookings", body)


def credits_of(client) -> dict:
    return client.call("get", "/api/v1/credits").json()


def returned(user) -> int:
    return CreditEntry.objects.filter(user=user, reason=CreditReason.RETURNED).count()


@pytest.mark.django_db
def test_credit_is_spent_first_and_the_card_is_asked_for_the_rest(as_student, student, service):
    grant(student, 2000)
    answer = book(as_student, service)
    assert answer.status_code == 201, answer.content
    payment = answer.json()["payment"]
    assert (payment["amount_cents"], payment["credit_cents"]) == (4500, 2000)
    assert Payment.objects.get().charge_cents == 2500
    body = credits_of(as_student)
    assert body["balances"] == [{"currency": "EUR", "amount_cents": 0}]
    assert body["items"][0]["amount_cents"] == -2000
    assert body["items"][0]["reference"] == f"booking-{answer.json()['id']}"


@pytest.mark.django_db
def test_a_booking_covered_by_credit_is_confirmed_with_no_card(as_student, student, service):
    grant(student, 6000)
    answer = book(as_student, service).json()
    assert answer["status"] == "confirmed"
    assert answer["payment"]["status"] == "authorized"
    assert answer["payment"]["credit_cents"] == 4500 and answer["payment"]["client_secret"] is None
    payment = Payment.objects.get()
    assert (payment.intent_id, payment.setup_intent_id, payment.charge_cents) == ("", "", 0)
    assert credit_balance(user_id=student.pk, currency="EUR") == 1500


@pytest.mark.django_db
def test_a_cancellation_with_a_full_release_returns_the_credit_once(as_student, student, service):
    grant(student, 2000)
    booking_id = book(as_student, service).json()["id"]
    cancelled = as_student.call("post", f"/api/v1/bookings/{booking_id}/cancel", {"reason": "Ill"})
    assert cancelled.json()["payment"]["status"] == "released"
    for _ in range(2):  # the settle task and the sweep may both run again
        booking_services.booking_payment_settle(booking_id=booking_id)
    assert booking_ids_to_settle() == []
    assert (
        as_student.call(
            "post", f"/api/v1/bookings/{booking_id}/cancel", {"reason": "Ill"}
        ).status_code
        == 409
    )
    assert returned(student) == 1
    body = credits_of(as_student)
    assert body["balances"] == [{"currency": "EUR", "amount_cents": 2000}]
    assert [i["reason"] for i in body["items"]] == ["returned", "spent", "staff_grant"]


@pytest.mark.django_db
def test_an_instructor_cancelling_late_gives_the_student_credit_once(
    as_student, as_instructor, student, service, settings
):
    settings.BOOKINGS_FREE_CANCELLATION_HOURS = 24 * 30  # so a lesson in two days is "late"
    settings.BOOKINGS_INSTRUCTOR_LATE_CANCELLATION_CREDIT_CENTS = 1200
    booking_id = book(as_student, service).json()["id"]
    path = f"/api/v1/bookings/{booking_id}/cancel"
    assert as_instructor.call("post", path, {"reason": "Ill"}).status_code == 200
    assert as_instructor.call("post", path, {"reason": "Ill"}).status_code == 409
    booking_services.booking_payment_settle(booking_id=booking_id)
    granted = CreditEntry.objects.get(user=student, reason=CreditReason.INSTRUCTOR_CANCELLED)
    assert (granted.amount_cents, granted.currency, granted.reference) == (
        1200,
        "EUR",
        f"booking-{booking_id}",
    )
    assert granted.actor_id == service.instructor_id
    assert credits_of(as_student)["balances"] == [{"currency": "EUR", "amount_cents": 1200}]


@pytest.mark.django_db
def test_an_instructor_cancelling_in_good_time_or_a_student_late_gives_no_credit(
    api, token_for, as_student, as_instructor, student, service, settings
):
    first = book(as_student, service).json()["id"]  # two days ahead: not late
    as_instructor.call("post", f"/api/v1/bookings/{first}/cancel", {"reason": "Ill"})
    settings.BOOKINGS_FREE_CANCELLATION_HOURS = 24 * 30
    second = book(as_student, service).json()["id"]
    as_student.call("post", f"/api/v1/bookings/{second}/cancel", {"reason": "Ill"})
    assert not CreditEntry.objects.filter(reason=CreditReason.INSTRUCTOR_CANCELLED).exists()


class DecliningBackend(DevBackend):
    name = "declining"

    def authorise(self, **kwargs):
        raise PaymentError("card declined", declined=True)


@pytest.fixture
def declining(settings, monkeypatch):
    monkeypatch.setitem(backends.BACKENDS, "declining", f"{__name__}.DecliningBackend")
    settings.PAYMENTS_BACKEND = "declining"
    backends.payment_backend.cache_clear()
    yield
    backends.payment_backend.cache_clear()


@pytest.mark.django_db
def test_a_declined_card_gives_back_the_credit_spent_on_the_booking(
    declining, as_student, student, service
):
    grant(student, 2000)
    answer = book(as_student, service).json()
    assert (answer["status"], answer["payment"]["status"]) == ("cancelled", "failed")
    assert booking_ids_to_settle() == [answer["id"]]  # the sweep would find it
    for _ in range(2):
        booking_services.booking_payment_settle(booking_id=answer["id"])
    assert credit_balance(user_id=student.pk, currency="EUR") == 2000
    assert returned(student) == 1
    assert booking_ids_to_settle() == []  # and then leave it alone
    # The failure stays on record for the student to see why the booking ended.
    assert (
        as_student.call("get", f"/api/v1/bookings/{answer['id']}").json()["payment"]["status"]
        == "failed"
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_never_spend_more_credit_than_there_is(make_user, token_for):
    student = make_user("student")
    grant(student, 5000)
    services = []
    for _ in range(4):  # one instructor each, so the bookings do not queue on one calendar
        teacher = make_user("instructor")
        services.append(
            booking_services.service_create(
                instructor=teacher,
                name="Cello",
                duration_minutes=60,
                price_cents=3000,
                currency="eur",
                location_types=["online"],
                min_notice_minutes=0,
            )
        )
        booking_services.availability_replace(
            instructor=teacher, timezone="UTC", rules=[(d, time(0), time(23)) for d in range(7)]
        )
    starts = [next_free_start(s, days_ahead=2 + 3 * n) for n, s in enumerate(services)]
    token = token_for(student)

    def attempt(service, start):
        return lambda: book(ApiClient(token), service, start).status_code

    assert race([attempt(s, t) for s, t in zip(services, starts, strict=True)]) == [201] * 4
    spent = sorted(Payment.objects.values_list("credit_cents", flat=True))
    assert sum(spent) == 5000 and spent[-2:] == [2000, 3000]
    assert credit_balance(user_id=student.pk, currency="EUR") == 0
    assert Booking.objects.filter(status="confirmed").count() == 4


@pytest.mark.django_db
def test_credit_in_another_currency_is_not_spent(as_student, student, service):
    credit_grant(
        user_id=student.pk, currency="USD", amount_cents=9000, reason=CreditReason.STAFF_GRANT
    )
    assert book(as_student, service).json()["payment"]["credit_cents"] == 0
    assert_error(as_student.call("get", "/api/v1/credits?limit=0"), 422, "invalid")
