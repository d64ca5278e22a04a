"""How payments tells its owners of a change without knowing them: they register a handler.

Bookings registers one at start-up. A handler runs inside the transaction that records
the change, so what it writes (a booking's new state, its events) commits with it.
"""

from collections.abc import Callable

from payments.models import Payment

# (the payment as it is now, its previous status)
PaymentHandler = Callable[[Payment, str], None]

_handlers: dict[str, PaymentHandler] = {}


def payment_handler_register(*, prefix: str, handler: PaymentHandler) -> None:
    """Call `handler` for every change to a payment whose reference starts with `prefix-`."""
    _handlers[prefix] = handler


def payment_changed(payment: Payment, previous: str) -> None:
    handler = _handlers.get(payment.reference.split("-", 1)[0])
    if handler is not None:
        handler(payment, previous)
