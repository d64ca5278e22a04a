"""The domain apps' settings: notifications, payments, chat, bookings, privacy. Part of
`config.settings`."""

import os

from config.settings.env import env_bool, env_float

# --- Notifications -------------------------------------------------------------
# Read notifications are kept this long, unread ones this long, then pruned (hourly).
NOTIFICATIONS_READ_RETENTION_DAYS = env_float("NOTIFICATIONS_READ_RETENTION_DAYS", 30)
NOTIFICATIONS_UNREAD_RETENTION_DAYS = env_float("NOTIFICATIONS_UNREAD_RETENTION_DAYS", 365)

# --- Payments ------------------------------------------------------------------
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
PAYMENTS_BACKEND = os.environ.get("PAYMENTS_BACKEND", "stripe" if STRIPE_SECRET_KEY else "dev")
# The dev backend takes no money: with DEBUG off it needs this explicit opt-in (tests only).
PAYMENTS_DEV_ALLOWED = env_bool("PAYMENTS_DEV_ALLOWED", default=False)
# The platform's fee on a destination charge, in basis points of the amount charged.
PAYMENTS_PLATFORM_FEE_BPS = int(env_float("PAYMENTS_PLATFORM_FEE_BPS", 1500))
# Card authorisations lapse after about 7 days: a lesson further out than this saves
# the card at booking and is authorised off-session once it comes within the window.
PAYMENTS_AUTHORISATION_WINDOW_DAYS = env_float("PAYMENTS_AUTHORISATION_WINDOW_DAYS", 6)
# After a refused off-session authorisation, the student has this long to pay.
PAYMENTS_PAY_BY_HOURS = env_float("PAYMENTS_PAY_BY_HOURS", 24)
# Where the provider sends an instructor back after (or to restart) payout onboarding;
# empty: this site's `/`, built from the request.
PAYOUTS_RETURN_URL = os.environ.get("PAYOUTS_RETURN_URL", "")

# --- Chat ----------------------------------------------------------------------
# message.send, socket and REST together: this many per minute per user, in bursts of this many.
CHAT_MESSAGE_RATE_PER_MINUTE = float(os.environ.get("CHAT_MESSAGE_RATE_PER_MINUTE", "60"))
CHAT_MESSAGE_BURST = int(os.environ.get("CHAT_MESSAGE_BURST", "10"))
# At most one `typing` per user and conversation per this many seconds; extras are dropped.
CHAT_TYPING_INTERVAL_SECONDS = float(os.environ.get("CHAT_TYPING_INTERVAL_SECONDS", "2"))
# A message unread this long, with its recipient connected nowhere, earns one e-mail.
CHAT_OFFLINE_NOTICE_MINUTES = int(os.environ.get("CHAT_OFFLINE_NOTICE_MINUTES", "5"))

# --- Bookings ------------------------------------------------------------------
# A `pending_payment` hold older than this expires and frees its time.
BOOKINGS_PAYMENT_HOLD_MINUTES = int(os.environ.get("BOOKINGS_PAYMENT_HOLD_MINUTES", "15"))
# How long after a lesson's end its instructor may still mark it a no-show.
BOOKINGS_NO_SHOW_GRACE_HOURS = int(os.environ.get("BOOKINGS_NO_SHOW_GRACE_HOURS", "48"))
# A student who cancels at least this long before the start is released in full; later,
# this share of the charge is captured and the rest released.
BOOKINGS_FREE_CANCELLATION_HOURS = env_float("BOOKINGS_FREE_CANCELLATION_HOURS", 24)
BOOKINGS_LATE_CANCELLATION_CAPTURE_PERCENT = env_float(
    "BOOKINGS_LATE_CANCELLATION_CAPTURE_PERCENT", 50
)
# An instructor who cancels within the free-cancellation time gives the student this
# much platform credit (minor units of the booking's currency; 0: none).
BOOKINGS_INSTRUCTOR_LATE_CANCELLATION_CREDIT_CENTS = int(
    env_float("BOOKINGS_INSTRUCTOR_LATE_CANCELLATION_CREDIT_CENTS", 1000)
)

# --- Privacy -------------------------------------------------------------------
# A ready data export can be downloaded for this long; then its archive is dropped (hourly).
PRIVACY_EXPORT_RETENTION_HOURS = env_float("PRIVACY_EXPORT_RETENTION_HOURS", 72)
# Exports a person may ask for per day, one at a time in any case (staff are not counted).
PRIVACY_EXPORTS_PER_DAY = env_float("PRIVACY_EXPORTS_PER_DAY", 5)
