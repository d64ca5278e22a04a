from payments.services.credits import credit_balance, credit_grant, credit_spend
from payments.services.erasure import payments_scrub
from payments.services.intents import (
    payment_authorise,
    payment_authorise_off_session,
    payment_capture,
    payment_open,
    payment_record,
    payment_refund,
    payment_release,
    payment_reschedule,
    payment_sync,
)
from payments.services.outcomes import payment_handler_register
from payments.services.payouts import payout_account_refresh, payout_onboarding_start
from payments.services.webhooks import (
    provider_event_process,
    provider_event_receive,
    provider_events_process,
)

__all__ = [
    "credit_balance",
    "credit_grant",
    "credit_spend",
    "payment_authorise",
    "payment_authorise_off_session",
    "payment_capture",
    "payment_handler_register",
    "payment_open",
    "payment_record",
    "payment_refund",
    "payment_release",
    "payment_reschedule",
    "payment_sync",
    "payments_scrub",
    "payout_account_refresh",
    "payout_onboarding_start",
    "provider_event_process",
    "provider_event_receive",
    "provider_events_process",
]
