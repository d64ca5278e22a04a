"""Limits on guessing passwords and on sign-ups, checked before any password is hashed.

A wrong password costs the server a PBKDF2 hash (a quarter to a whole second of
CPU), so failed logins are limited per account and per client address, and
sign-ups per address. A refusal is RateLimited (429 with Retry-After).
"""

import contextlib

from django.conf import settings

from conventions.errors import RateLimited
from conventions.ratelimit import Rate, peek, take


def _rate(count_setting: str, window_setting: str) -> Rate:
    count = float(getattr(settings, count_setting))
    window = float(getattr(settings, window_setting))
    return Rate(per_second=count / window, burst=max(1, int(count)))


def login_check(*, email: str, address: str) -> None:
    """Refuse (429) while this account or this address has used up its failures."""
    peek(f"login.account:{email.strip().lower()}", _account_rate())
    peek(f"login.address:{address}", _address_rate())


def login_failed(*, email: str, address: str) -> None:
    """Count a failed login against the account and the address."""
    for key, rate in (
        (f"login.account:{email.strip().lower()}", _account_rate()),
        (f"login.address:{address}", _address_rate()),
    ):
        with contextlib.suppress(RateLimited):  # at the limit: the next check refuses
            take(key, rate)


def registration_check(*, address: str) -> None:
    """Spend one of this address's sign-ups, or refuse (429)."""
    take(
        f"register.address:{address}",
        _rate("REGISTRATIONS_PER_ADDRESS", "REGISTRATIONS_WINDOW_SECONDS"),
    )


def _account_rate() -> Rate:
    return _rate("LOGIN_FAILURES_PER_ACCOUNT", "LOGIN_FAILURES_WINDOW_SECONDS")


def _address_rate() -> Rate:
    return _rate("LOGIN_FAILURES_PER_ADDRESS", "LOGIN_FAILURES_WINDOW_SECONDS")
