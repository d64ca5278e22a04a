"""A payment's life through the services, on the dev backend: each move happens once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments import services
from payments.backends import ProviderPayment
from payments.models import CreditEntry, CreditReason, Payment, PaymentState
from payments.services import outcomes
from tests.helpers import race

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard(monkeypatch):
    """Every change reported to the owner of `test-…` references, as (status, previous)."""
    changes: list[tuple[str, str]] = []
    outcomes.payment_handler_register(
        prefix="test", handler=lambda payment, previous: changes.append((payment.status, previous))
    )
    yield changes
    outcomes._handlers.pop("test")


def opened(student, *, amount=5000, days_ahead=2, reference="test-1") -> Payment:
    return services.payment_open(
        reference=reference, payer_id=student.pk, payee_id=None, amount_cents=amount,
        currency="EUR", description="A lesson",
        capture_after=timezone.now() + timedelta(days=days_ahead),
    )  # fmt: skip


def test_authorise_capture_part_then_refund_in_two_steps(student, heard):
    payment = opened(student)
    assert payment.status == PaymentState.REQUIRES_PAYMENT
    payment = services.payment_authorise(payment_id=payment.pk)
    assert payment.status == PaymentState.AUTHORIZED and payment.intent_id.startswith("dev_")
    payment = services.payment_capture(payment_id=payment.pk, amount_cents=3000)
    assert (payment.status, payment.captured_cents) == (PaymentState.CAPTURED, 3000)
    payment = services.payment_refund(payment_id=payment.pk, amount_cents=1000)
    assert (payment.status, payment.refunded_cents) == (PaymentState.PARTIALLY_REFUNDED, 1000)
    payment = services.payment_refund(payment_id=payment.pk, amount_cents=99999)
    assert (payment.status, payment.refunded_cents) == (PaymentState.REFUNDED, 3000)
    assert heard == [
        ("authorized", "requires_payment"),
        ("captured", "authorized"),
        ("partially_refunded", "captured"),
        ("refunded", "partially_refunded"),
    ]


def test_a_late_or_repeated_answer_changes_nothing(student, heard):
    payment = services.payment_authorise(payment_id=opened(student).pk)
    services.payment_capture(payment_id=payment.pk, amount_cents=5000)
    for stale in (PaymentState.AUTHORIZED, PaymentState.REQUIRES_PAYMENT, PaymentState.CAPTURED):
        services.payment_record(payment_id=payment.pk, result=ProviderPayment(stale))
    payment.refresh_from_db()
    assert payment.status == PaymentState.CAPTURED
    assert heard == [("authorized", "requires_payment"), ("captured", "authorized")]


def test_released_while_the_authorisation_was_in_flight_gives_the_hold_back(
    student, heard, django_capture_on_commit_callbacks
):
    payment = opened(student)
    services.payment_release(payment_id=payment.pk)  # the owner cancelled first
    with django_capture_on_commit_callbacks() as callbacks:
        services.payment_record(
            payment_id=payment.pk,
            result=ProviderPayment(PaymentState.AUTHORIZED, intent_id="dev_late"),
        )
    payment.refresh_from_db()
    assert (payment.status, payment.intent_id) == (PaymentState.RELEASED, "dev_late")
    assert len(callbacks) == 1  # payments.payment_release queued for the late hold


def test_credit_is_spent_first_and_a_fully_covered_payment_needs_no_card(student, heard):
    services.credit_grant(user_id=student.pk, currency="EUR", amount_cents=7000,
                          reason=CreditReason.STAFF_GRANT)  # fmt: skip
    first = opened(student, amount=5000, reference="test-1")
    assert (first.status, first.credit_cents, first.charge_cents) == ("authorized", 5000, 0)
    second = opened(student, amount=5000, reference="test-2")
    assert (second.status, second.credit_cents, second.charge_cents) == (
        "requires_payment", 2000, 3000,
    )  # fmt: skip
    assert services.credit_balance(user_id=student.pk, currency="EUR") == 0
    services.payment_release(payment_id=first.pk)  # a full release gives the credit back
    services.payment_release(payment_id=first.pk)
    assert services.credit_balance(user_id=student.pk, currency="EUR") == 5000
    assert CreditEntry.objects.filter(reason=CreditReason.RETURNED).count() == 1


def test_a_lesson_far_ahead_saves_the_card_and_authorises_off_session_later(student, heard):
    payment = opened(student, days_ahead=20)
    assert payment.authorise_after is not None
    payment = services.payment_authorise(payment_id=payment.pk)
    assert payment.status == PaymentState.CARD_SAVED
    assert services.payment_authorise_off_session(payment_id=payment.pk).status == "authorized"
    assert services.payment_authorise_off_session(payment_id=payment.pk).status == "authorized"
    assert heard == [("card_saved", "requires_payment"), ("authorized", "card_saved")]


@pytest.mark.django_db(transaction=True)
def test_concurrent_spends_never_take_the_balance_below_zero(student):
    services.credit_grant(user_id=student.pk, currency="EUR", amount_cents=3000,
                          reason=CreditReason.STAFF_GRANT)  # fmt: skip

    def spend(n: int):
        return lambda: services.credit_spend(
            user_id=student.pk, currency="EUR", up_to_cents=2000, reference=f"test-{n}"
        )

    spent = race([spend(n) for n in range(6)])
    assert sum(spent) == 3000
    assert services.credit_balance(user_id=student.pk, currency="EUR") == 0
