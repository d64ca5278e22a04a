"""The payment interface bookings talks to, and the backend chosen by `PAYMENTS_BACKEND`.

Payments knows nothing of bookings: a caller passes an amount and its own reference
and keeps the returned payment reference.
"""

import secrets
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class PaymentStatus:
    """The payment states a booking shows (`payment.status` on the wire)."""

    NONE = "none"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    RELEASED = "released"
    REFUNDED = "refunded"
    FAILED = "failed"


@dataclass(frozen=True)
class PaymentResult:
    status: str
    reference: str
    client_secret: str | None = None


class PaymentError(Exception):
    """The provider refused or could not be reached; nothing was charged."""


class PaymentBackend(Protocol):
    name: str

    def authorise(
        self, *, amount_cents: int, currency: str, reference: str, description: str
    ) -> PaymentResult:
        """Reserve the amount. `reference` is the caller's id, reused on retries."""

    def capture(self, *, payment_reference: str) -> PaymentResult: ...

    def release(self, *, payment_reference: str) -> PaymentResult: ...

    def refund(self, *, payment_reference: str) -> PaymentResult: ...


class DevBackend:
    """Authorises at once and moves no money: for `make run` and tests only."""

    name = "dev"

    def authorise(
        self, *, amount_cents: int, currency: str, reference: str, description: str
    ) -> PaymentResult:
        return PaymentResult(PaymentStatus.AUTHORIZED, f"dev_{secrets.token_hex(8)}")

    def capture(self, *, payment_reference: str) -> PaymentResult:
        return PaymentResult(PaymentStatus.CAPTURED, payment_reference)

    def release(self, *, payment_reference: str) -> PaymentResult:
        return PaymentResult(PaymentStatus.RELEASED, payment_reference)

    def refund(self, *, payment_reference: str) -> PaymentResult:
        return PaymentResult(PaymentStatus.REFUNDED, payment_reference)


BACKENDS = {"dev": "payments.backends.DevBackend"}


def check_backend_known() -> None:
    """A backend that does not exist is a configuration error: no process starts."""
    name = settings.PAYMENTS_BACKEND
    if name not in BACKENDS:
        raise ImproperlyConfigured(
            f"PAYMENTS_BACKEND={name!r} is not available; choose one of {sorted(BACKENDS)}."
        )


def takes_no_money_in_production() -> bool:
    """The dev backend with DEBUG off and no explicit opt-in: bookings would be free."""
    return (
        settings.PAYMENTS_BACKEND == "dev"
        and not settings.DEBUG
        and not settings.PAYMENTS_DEV_ALLOWED
    )


DEV_IN_PRODUCTION = (
    "PAYMENTS_BACKEND is 'dev' (no STRIPE_SECRET_KEY set) while DEBUG is off: the dev "
    "backend takes no money. Set STRIPE_SECRET_KEY for real payments, or "
    "PAYMENTS_DEV_ALLOWED=true to say that free bookings are intended (a trial or test setup)."
)


@register(Tags.security, deploy=True)
def dev_backend_deploy_check(app_configs, **kwargs) -> list[CheckMessage]:
    """`check --deploy` names the dev backend in production until it is chosen on purpose."""
    if takes_no_money_in_production():
        return [Warning(DEV_IN_PRODUCTION, id="payments.W001")]
    return []


@cache
def payment_backend() -> PaymentBackend:
    return import_string(BACKENDS[settings.PAYMENTS_BACKEND])()
