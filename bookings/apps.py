from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"

    def ready(self) -> None:
        from bookings import topics
        from bookings.services.money import booking_payment_changed
        from payments.services import payment_handler_register

        topics.register()
        payment_handler_register(prefix="booking", handler=booking_payment_changed)
