"""The embedded mode under modest concurrency: SQLite's one write lock is never held
through slow work, so a burst of sign-ups and writes all succeed, none with a 500."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import http_json
from tests.live import child_env, daphne_command, free_port, manage, running

EMBEDDED = {
    name: None
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS",
                 "SECURE_SSL_REDIRECT", "PASSWORD_HASHERS")
}  # fmt: skip
PEOPLE = 100
AT_ONCE = 8


@pytest.fixture
def embedded_server(tmp_path):
    # A short busy timeout: a writer that waits this long on the lock fails, so a lock
    # held through a password hash (a quarter to a whole second each) shows up at once.
    env = child_env(
        **EMBEDDED, DATA_DIR=str(tmp_path), SQLITE_BUSY_TIMEOUT_SECONDS="3",
        REGISTRATIONS_PER_ADDRESS="1000",
    )  # fmt: skip
    migrated = manage("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    log = (tmp_path / "daphne.log").open("w")
    base = f"http://127.0.0.1:{port}"
    with running(daphne_command(port), env, wait_url=f"{base}/healthz", log=log):
        yield base


def test_a_burst_of_registrations_then_service_creations_all_succeed(embedded_server):
    def register(n: int) -> tuple[int, dict]:
        return http_json(
            f"{embedded_server}/api/v1/auth/register",
            {
                "email": f"teacher{n}@example.com",
                "password": "correct-horse-battery-9",
                "name": f"Teacher {n}",
                "role": "instructor",
                "timezone": "Europe/Berlin",
            },
            timeout=60,  # hashing a password takes up to a second on a busy machine
        )

    with ThreadPoolExecutor(AT_ONCE) as pool:
        registered = list(pool.map(register, range(PEOPLE)))
    assert [status for status, _ in registered] == [201] * PEOPLE, registered

    def create_service(answer: dict) -> tuple[int, dict]:
        return http_json(
            f"{embedded_server}/api/v1/instructors/me/services",
            {
                "name": "Guitar",
                "duration_minutes": 45,
                "price_cents": 3000,
                "currency": "EUR",
                "location_types": ["online"],
            },
            answer["token"],
            timeout=60,
        )

    with ThreadPoolExecutor(AT_ONCE) as pool:
        created = list(pool.map(create_service, [answer for _, answer in registered]))
    assert [status for status, _ in created] == [201] * PEOPLE, created
    assert len({answer["id"] for _, answer in created}) == PEOPLE
