"""The payment interface: the dev backend, and refusing to start with it in production."""

import pytest

from payments.backends import DevBackend, PaymentStatus, payment_backend
from tests.live import child_env, manage


def test_dev_backend_authorises_at_once_and_settles():
    backend = DevBackend()
    held = backend.authorise(amount_cents=4500, currency="EUR", reference="b-1", description="x")
    assert held.status == PaymentStatus.AUTHORIZED and held.reference.startswith("dev_")
    assert backend.capture(payment_reference=held.reference).status == PaymentStatus.CAPTURED
    assert backend.release(payment_reference=held.reference).status == PaymentStatus.RELEASED
    assert backend.refund(payment_reference=held.reference).status == PaymentStatus.REFUNDED


def test_the_configured_backend_is_dev_without_a_stripe_key():
    assert payment_backend().name == "dev"


@pytest.mark.parametrize(
    "env, ok, says",
    [
        ({"DEBUG": "false", "PAYMENTS_DEV_ALLOWED": None}, False, "dev backend takes no money"),
        ({"DEBUG": "true", "PAYMENTS_DEV_ALLOWED": None}, True, ""),
        ({"DEBUG": "false", "PAYMENTS_DEV_ALLOWED": "true"}, True, ""),
        ({"PAYMENTS_BACKEND": "paypal"}, False, "not available"),
    ],
)
def test_a_process_refuses_to_start_with_the_dev_backend_and_debug_off(env, ok, says):
    result = manage(
        "check", env=child_env(**({"STRIPE_SECRET_KEY": None, "PAYMENTS_BACKEND": None} | env))
    )
    assert (result.returncode == 0) is ok, result.stderr
    assert says in result.stderr
