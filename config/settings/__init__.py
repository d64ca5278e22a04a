"""One settings module for both modes, driven by the environment alone.

No environment at all gives the embedded mode (SQLite, in-process channel layer,
server-less broker); DATABASE_URL and REDIS_URL switch each part to production.
"""

import hashlib
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.settings.env import env_bool, env_float, env_list, env_networks

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# What the running hub writes (beat's schedule; in the embedded mode also the
# database, the broker's folders and the generated secret key). Made if missing,
# in both modes, so every process starts from a fresh clone.
DATA_DIR = Path(os.environ.get("DATA_DIR") or BASE_DIR / "data").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
# Where every process of a machine writes its metrics (docs/metrics.md); prometheus-client
# fails at the first metric if it is missing, so it is made here too.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def embedded_secret_key() -> str:
    """A key generated once and kept in the data folder, so sessions survive restarts."""
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
DEBUG = env_bool("DEBUG", default=not DATABASE_URL)
# Debug pages show settings and code: only on this machine unless DEBUG=true is said.
DEBUG_CHOSEN = bool(os.environ.get("DEBUG"))
SECRET_KEY = os.environ.get("SECRET_KEY") or (embedded_secret_key() if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")

# Loopback names by default in both modes, so a server tried on this machine answers;
# a deployment lists its own host names.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Browser origins (scheme://host[:port]) allowed to open a WebSocket besides the
# server's own; empty: the names of ALLOWED_HOSTS over HTTPS (see hub/origin.py).
WEBSOCKET_ALLOWED_ORIGINS = env_list("WEBSOCKET_ALLOWED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # Its Swagger UI files are served from the package, so /api/v1/docs works offline.
    "ninja",
    "conventions",
    "accounts",
    "hub",
    "notifications",
    "payments",
    "bookings",
    "chat",
    "privacy",
    "web",
    "config",
]

MIDDLEWARE = [
    "config.metrics.RequestTimer",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ApiMethodNotAllowed",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.AdminLoginThrottle",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.ContentSecurityPolicy",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------
SQLITE_OPTIONS = {
    # Writers take the lock when the transaction starts, so concurrent writers
    # queue up (for up to `timeout` seconds) instead of failing mid-transaction.
    "transaction_mode": "IMMEDIATE",
    "timeout": env_float("SQLITE_BUSY_TIMEOUT_SECONDS", 20),
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if DATABASE_URL:
    default_db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    if default_db["ENGINE"] == "django.db.backends.postgresql":
        default_db.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    if default_db["ENGINE"] == "django.db.backends.sqlite3":
        default_db["OPTIONS"] = {**SQLITE_OPTIONS, **default_db.get("OPTIONS", {})}
        default_db["CONN_MAX_AGE"] = 0
else:
    default_db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "db.sqlite3"),
        "OPTIONS": SQLITE_OPTIONS,
    }
DATABASES = {"default": default_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMBEDDED_DATABASE = default_db["ENGINE"] == "django.db.backends.sqlite3"


# --- Channel layer -----------------------------------------------------------
def database_identity() -> str:
    """Which database this deployment is: deployments sharing one Redis server differ here."""
    identity = f"{default_db.get('HOST', '')}:{default_db.get('PORT', '')}/{default_db['NAME']}"
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


# Stamped on every fast-path message; a server drops one from another deployment.
HUB_DEPLOYMENT_ID = database_identity()
# Every Redis channel, group and key of this deployment starts with this, so two
# deployments on one Redis server (pub/sub ignores the database number) never meet.
HUB_KEY_PREFIX = os.environ.get("HUB_KEY_PREFIX") or "hub-" + HUB_DEPLOYMENT_ID[:8]

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis PUBLISH per group message: the members are server processes
            # (see hub.fanout), so an event costs one command whatever the audience.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "prefix": HUB_KEY_PREFIX,
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 caps a pool at 100 connections and times out
                        # reads after 5 s, the layer's own blocking-read time: set both.
                        "max_connections": 1000,
                        "socket_timeout": 30,
                        "socket_connect_timeout": 5,
                        "health_check_interval": 15,
                        "retry_on_timeout": True,
                    }
                ],
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Live hub ------------------------------------------------------------------
HUB_EVENT_RETENTION_DAYS = env_float("HUB_EVENT_RETENTION_DAYS", 7)
HUB_REPLAY_LIMIT = int(env_float("HUB_REPLAY_LIMIT", 1000))
HUB_MAX_TOPICS_PER_CONNECTION = 100
HUB_OUTGOING_QUEUE_FRAMES = int(env_float("HUB_OUTGOING_QUEUE_FRAMES", 1000))
# Backpressure on what clients send (hub.intake): a socket with this many frames waiting
# is no longer read until half are served, and a frame that waited longer than this many
# seconds for its turn is answered `rate_limited` instead of being run.
HUB_INTAKE_FRAMES = int(env_float("HUB_INTAKE_FRAMES", 32))
HUB_BACKPRESSURE_SECONDS = env_float("HUB_BACKPRESSURE_SECONDS", 2)
# How long a server process's thread may hold the GIL while another waits (Python's own
# default is 0.005): the group-commit writer waits for it after each database round trip.
HUB_GIL_SWITCH_SECONDS = env_float("HUB_GIL_SWITCH_SECONDS", 0.0005)
# Without Redis the log tail is the only path from other processes (the Celery
# worker, a shell), so it runs often; with Redis it only heals lost messages.
HUB_TAIL_INTERVAL_SECONDS = env_float("HUB_TAIL_INTERVAL_SECONDS", 2.0 if REDIS_URL else 0.3)
HUB_PRESENCE_TTL_SECONDS = env_float("HUB_PRESENCE_TTL_SECONDS", 60)
# A user's presence.leave waits this long; a rejoin within it announces nothing.
HUB_PRESENCE_LEAVE_GRACE_SECONDS = env_float("HUB_PRESENCE_LEAVE_GRACE_SECONDS", 2)
# Each connection's budget: frames per second on average, at once, and refused in a row
# before the connection is closed with 1008.
HUB_OPERATIONS_PER_SECOND = env_float("HUB_OPERATIONS_PER_SECOND", 20)
HUB_OPERATIONS_BURST = int(env_float("HUB_OPERATIONS_BURST", 150))
HUB_OPERATIONS_REFUSED_BEFORE_CLOSE = int(env_float("HUB_OPERATIONS_REFUSED_BEFORE_CLOSE", 50))
# Under daphne: when the server's full GC collections run (see docs/architecture.md).
HUB_GC_OLDEST_INTERVAL_SECONDS = env_float("HUB_GC_OLDEST_INTERVAL_SECONDS", 60)
HUB_GC_THAW_AFTER_CLOSED_CONNECTIONS = int(env_float("HUB_GC_THAW_AFTER_CLOSED_CONNECTIONS", 1000))
HUB_GC_THAW_INTERVAL_SECONDS = env_float("HUB_GC_THAW_INTERVAL_SECONDS", 3600)
HUB_GC_AFTER_NEW_CONNECTIONS = int(env_float("HUB_GC_AFTER_NEW_CONNECTIONS", 200))

# --- Celery --------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
        # An unacknowledged task (its worker died) is handed out again after this long.
        "visibility_timeout": env_float("CELERY_VISIBILITY_TIMEOUT_SECONDS", 3600),
        # Queues and their bookkeeping carry the deployment's prefix too: a worker never
        # takes a task another deployment (or test run) on this Redis server queued.
        "global_keyprefix": f"{HUB_KEY_PREFIX}-celery:",
    }
else:
    # A broker that needs no server: queues are folders under the data folder,
    # shared by the web server, the worker and beat on one machine.
    _queue_dir = DATA_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "out"),
        "data_folder_out": str(_queue_dir / "out"),
        "processed_folder": str(_queue_dir / "processed"),
        # The exchange tables; kombu's default is the current folder.
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# Each entry is named after its task: `<app>.<entity>_<action>`, like the service it calls.
CELERY_BEAT_SCHEDULE = {
    name: {"task": name, "schedule": seconds}
    for name, seconds in (
        ("accounts.tokens_prune", 24 * 3600),
        ("hub.events_prune", 3600),
        ("hub.processes_prune", 3600),
        ("bookings.bookings_expire", 60),
        ("bookings.bookings_complete", 300),
        ("bookings.reminders_send", 300),
        ("bookings.booking_payments_settle", 900),
        ("payments.payments_authorise_due", 900),
        ("payments.provider_events_process", 300),
        ("chat.offline_notices_send", 60),
        ("conventions.emails_send", 30),
        ("conventions.emails_prune", 3600),
        ("notifications.notifications_prune", 3600),
        ("privacy.exports_prune", 3600),
    )
}

# --- Auth ----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env_list(
    "PASSWORD_HASHERS",
    [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ],
)
# A token's last-used time is written at most this often, so hot clients don't
# turn every request into a write.
TOKEN_LAST_USED_INTERVAL_SECONDS = 60
# A token unused this long expires; every use (noted at most once a minute) renews it.
TOKEN_LIFETIME_DAYS = env_float("TOKEN_LIFETIME_DAYS", 30)
# Failed logins (API and admin) allowed per account and per client address in the
# window, and sign-ups per address; both refused (429) before any password is hashed.
LOGIN_FAILURES_PER_ACCOUNT = env_float("LOGIN_FAILURES_PER_ACCOUNT", 10)
LOGIN_FAILURES_PER_ADDRESS = env_float("LOGIN_FAILURES_PER_ADDRESS", 30)
LOGIN_FAILURES_WINDOW_SECONDS = env_float("LOGIN_FAILURES_WINDOW_SECONDS", 900)
REGISTRATIONS_PER_ADDRESS = env_float("REGISTRATIONS_PER_ADDRESS", 100)
REGISTRATIONS_WINDOW_SECONDS = env_float("REGISTRATIONS_WINDOW_SECONDS", 3600)
# Sign-up needs a valid invite code (docs/invites.md); a code given without it is still
# checked, spent and its role applied.
REGISTRATION_REQUIRES_INVITE = env_bool("REGISTRATION_REQUIRES_INVITE", default=False)

# --- Email ---------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "hub@localhost")
# A silent SMTP server fails the attempt after this long instead of holding the worker.
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT_SECONDS", 30)
# The outbox (conventions.mail): a run holds each e-mail it sends this long, at least
# Celery's hard time limit, so the e-mail of a run still alive is never taken over.
EMAIL_SEND_LEASE_SECONDS = env_float("EMAIL_SEND_LEASE_SECONDS", 120)
# Tries per e-mail before it is given up (kept, with its last error, for operators).
EMAIL_SEND_MAX_ATTEMPTS = int(env_float("EMAIL_SEND_MAX_ATTEMPTS", 8))
EMAIL_SENT_RETENTION_DAYS = env_float("EMAIL_SENT_RETENTION_DAYS", 7)

# --- Serving -------------------------------------------------------------------
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "8000"))
# A TLS-terminating proxy (nginx, a load balancer) is in front and sets X-Forwarded-Proto.
BEHIND_PROXY = env_bool("BEHIND_PROXY", default=False)
# daphne processes `serve` runs on the one port (0: one per CPU with Redis; the embedded
# mode's in-process channel layer cannot cross processes, so it always runs one).
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
SERVER_PROCESSES = int(env_float("SERVER_PROCESSES", 0)) or ((_CPUS or 1) if REDIS_URL else 1)
# /metrics is 404 unless one of these opens it; with both set, a scrape needs both.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_ADDRESSES = env_networks("METRICS_ALLOWED_ADDRESSES")
# How often each server process samples its outgoing queues for the metrics.
HUB_METRICS_SAMPLE_SECONDS = env_float("HUB_METRICS_SAMPLE_SECONDS", 5)
# The Content-Security-Policy of every HTML page (the admin, the API docs, the app).
# Stripe.js (the app's card step) is allowed only when a publishable key says it is used:
# its script and frames from js.stripe.com, its calls to api.stripe.com.
STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
_STRIPE_JS = "https://js.stripe.com" if STRIPE_PUBLISHABLE_KEY else ""
_STRIPE_API = "https://api.stripe.com" if STRIPE_PUBLISHABLE_KEY else ""
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    f"default-src 'self'; script-src 'self' {_STRIPE_JS}; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data:; connect-src 'self' ws: wss: {_STRIPE_API}; "
    f"frame-src 'self' {_STRIPE_JS}; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
).replace(" ;", ";")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The largest request body read (REST bodies are small; over it: 413 in the error shape).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(env_float("MAX_REQUEST_BODY_BYTES", 1024 * 1024))

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

# --- Security (production) -----------------------------------------------------
if not DEBUG:
    if BEHIND_PROXY:
        # Only a proxy we run may say a request came over HTTPS; a client reaching
        # daphne directly could claim anything.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Preloading is a promise to browsers that is slow to take back: only when asked
    # (so `check --deploy` is not told to nag about it).
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# The domain apps' own settings (notifications, payments, chat, bookings, privacy).
from config.settings.domain import *  # noqa: E402, F403
