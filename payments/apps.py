import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from payments.backends import (
            DEV_IN_PRODUCTION,
            check_backend_known,
            takes_no_money_in_production,
        )

        check_backend_known()
        if takes_no_money_in_production():
            logger.warning(DEV_IN_PRODUCTION)
