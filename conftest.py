"""Fixtures shared by every app's tests, each defined once; helpers live in tests.helpers."""

import contextlib

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from accounts.models import User
from accounts.services import token_create, user_create
from config.celery import app as celery_app
from conventions import ratelimit
from payments import backends
from tests.helpers import PASSWORD, ApiClient, Client
from tests.smtp import SmtpServer
from tests.stripe_fake import SECRET_KEY, LocalStripe, RecordingStripe

# Chromium for the browser tests (one Playwright and browser per test module).
pytest_plugins = ["tests.browser"]


@pytest.hookimpl(trylast=True)  # after pytest-django's own ordering
def pytest_collection_modifyitems(items):
    """Modules that start servers or child processes (they use tests.live) run first: xdist
    hands out whole files in this order, and a slow file handed out last holds up the end."""
    items.sort(key=lambda item: not _uses_live(getattr(item, "module", None)))


def _uses_live(module) -> bool:
    names = vars(module).values() if module else ()
    return any(getattr(value, "__module__", "") == "tests.live" for value in names)


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 10_000))

    def make(role: str = "student", **fields) -> User:
        n = next(counter)
        fields.setdefault("email", f"{role}{n}@example.com")
        fields.setdefault("name", f"{role.title()} {n}")
        fields.setdefault("timezone", "UTC")
        return user_create(password=PASSWORD, role=role, **fields)

    return make


@pytest.fixture
def instructor(make_user):
    return make_user("instructor", timezone="Europe/Berlin")


@pytest.fixture
def student(make_user):
    return make_user("student", timezone="America/New_York")


@pytest.fixture
def admin_client(client):
    admin = User.objects.create_superuser(email="root@example.com", password=PASSWORD, name="R")
    assert admin.role == "admin" and admin.is_staff and admin.is_superuser
    client.force_login(admin)
    return client


@pytest.fixture
def token_for():
    def make(user: User) -> str:
        return token_create(user=user)[1]

    return make


@pytest.fixture
def api():
    def make(token: str | None = None) -> ApiClient:
        return ApiClient(token)

    return make


@pytest.fixture
def as_student(api, token_for, student) -> ApiClient:
    return api(token_for(student))


@pytest.fixture
def as_instructor(api, token_for, instructor) -> ApiClient:
    return api(token_for(instructor))


@pytest.fixture
async def connect():
    """Open in-process WebSocket clients (tests.helpers.Client), closed after the test."""
    opened: list[Client] = []

    async def make(token: str | None = None, headers=None) -> Client:
        client = await Client(headers).open(token)
        opened.append(client)
        return client

    yield make
    for client in opened:
        with contextlib.suppress(Exception):
            await client.close()


@pytest.fixture
def smtp(settings):
    """A real SMTP server (tests.smtp) that this process's e-mail goes to during the test."""
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        yield server


@pytest.fixture(scope="session")
def worker(django_db_setup):
    """One Celery worker thread for this test process, started by the first test that needs
    it: tasks re-read their rows, so it serves every test as a fresh one would."""
    with start_worker(celery_app, perform_ping_check=False, pool="solo"):
        yield


def delete_keys(redis_url: str, *patterns: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        for pattern in patterns:
            keys = list(client.scan_iter(pattern))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def forget_redis_keys():
    """Every run has prefixes of its own (tests/settings.py): delete this process's keys at
    the end (Celery's bindings never expire), so runs leave nothing behind in Redis."""
    yield
    from django.conf import settings

    if settings.REDIS_URL:
        prefix = settings.HUB_KEY_PREFIX
        delete_keys(settings.REDIS_URL, f"{prefix}:*", f"{prefix}-celery:*")


@pytest.fixture(autouse=True)
def fresh_rate_buckets(settings):
    """Every test starts with full buckets: user ids repeat across test databases (runs,
    xdist workers), so a bucket another test spent must never be seen. The Redis keys
    are this process's own (its prefix and database); the in-memory store is emptied."""
    if settings.REDIS_URL:
        delete_keys(settings.REDIS_URL, f"{settings.HUB_KEY_PREFIX}:rate:*")
    store = ratelimit._buckets
    if isinstance(store, ratelimit.MemoryBuckets):
        with store.lock:
            store.buckets.clear()


@pytest.fixture(autouse=True)
def fresh_presence(settings):
    """Topic names repeat across tests: no presence entry an earlier test left may count."""
    if settings.REDIS_URL:
        delete_keys(settings.REDIS_URL, f"{settings.HUB_KEY_PREFIX}:presence:*")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Close sessions left by worker threads so the test database can be dropped."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session")
def localstripe():
    """A localstripe server of this test process (xdist worker) alone, for the session:
    tests/stripe_fake.LocalStripe (its url, a stripe-python client, test cards)."""
    server = LocalStripe()
    yield server
    server.stop()


def use_stripe(settings, url: str) -> None:
    from payments.backends import payment_backend

    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE = url
    settings.PAYMENTS_BACKEND = "stripe"
    payment_backend.cache_clear()


@pytest.fixture
def stripe_backend(settings, localstripe):
    """Payments go to the Stripe backend, speaking to localstripe, for this test."""
    from payments.backends import payment_backend

    use_stripe(settings, localstripe.url)
    yield localstripe
    payment_backend.cache_clear()


@pytest.fixture
def recording_stripe(settings):
    """Payments go to the Stripe backend, speaking to a server that records each request and
    answers with the Stripe objects the test gives it (tests/stripe_fake.RecordingStripe)."""
    from payments.backends import payment_backend

    server = RecordingStripe()
    use_stripe(settings, server.url)
    yield server
    server.stop()
    payment_backend.cache_clear()


@pytest.fixture
def provider(settings, monkeypatch):
    """Put a stand-in payment provider (a backend class) behind the payments interface;
    everything of ours around it runs for real."""

    def use(backend_class):
        path = f"{backend_class.__module__}.{backend_class.__qualname__}"
        monkeypatch.setitem(backends.BACKENDS, backend_class.name, path)
        settings.PAYMENTS_BACKEND = backend_class.name
        backends.payment_backend.cache_clear()

    yield use
    backends.payment_backend.cache_clear()
