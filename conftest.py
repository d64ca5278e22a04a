"""Fixtures shared by every app's tests."""

import pytest
import redis
from django.test import Client

from accounts.models import User
from accounts.services import token_create, user_create

PASSWORD = "correct-horse-battery-9"


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
def token_for():
    def make(user: User) -> str:
        return token_create(user=user)[1]

    return make


class ApiClient(Client):
    """Django's test client speaking JSON, optionally with a bearer token."""

    def __init__(self, token: str | None = None):
        super().__init__()
        self.token = token

    def _headers(self, headers):
        headers = dict(headers or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def call(self, method: str, path: str, body=None, headers=None, raw: str | None = None):
        data = raw if raw is not None else body
        kwargs = {"headers": self._headers(headers)}
        if data is not None:
            kwargs["data"] = data
            kwargs["content_type"] = "application/json"
        return getattr(super(), method)(path, **kwargs)


@pytest.fixture
def api():
    def make(token: str | None = None) -> ApiClient:
        return ApiClient(token)

    return make


@pytest.fixture(autouse=True)
def fresh_rate_buckets(settings):
    """User ids restart with each test database; forget buckets an earlier run left in Redis."""
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter(f"{settings.HUB_KEY_PREFIX}:rate:*"))
        if keys:
            client.delete(*keys)
        client.close()


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
