"""The payment backend chosen by `PAYMENTS_BACKEND`, and what production says about it."""

from functools import cache

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from payments.backends.base import (
    PaymentBackend,
    PaymentError,
    ProviderAccount,
    ProviderPayment,
)
from payments.backends.dev import DevBackend

__all__ = [
    "BACKENDS",
    "DevBackend",
    "PaymentBackend",
    "PaymentError",
    "ProviderAccount",
    "ProviderPayment",
    "payment_backend",
]

BACKENDS = {
    "dev": "payments.backends.dev.DevBackend",
    "stripe": "payments.backends.stripe.StripeBackend",
}


def check_backend_known() -> None:
    """A backend that does not exist is a configuration error: no process starts."""
    name = settings.PAYMENTS_BACKEND
    if name not in BACKENDS:
        raise ImproperlyConfigured(
            f"PAYMENTS_BACKEND={name!r} is not available; choose one of {sorted(BACKENDS)}."
        )
    if name == "stripe" and not settings.STRIPE_SECRET_KEY:
        raise ImproperlyConfigured("PAYMENTS_BACKEND='stripe' needs STRIPE_SECRET_KEY.")


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
