"""The suite's settings: config.settings, read once this process has Redis names of its own.

pytest-django reads the settings before any conftest runs, so the environment is set
here: each run gets its own HUB_KEY_PREFIX, and each xdist worker (which already has a
database of its own, test_<name>_gw<n>) its own Redis database and prefix. The live
servers the tests start inherit the same environment (tests.live.child_env).
"""

import os
import secrets
from urllib.parse import urlsplit, urlunsplit

# A fast hasher: the suite creates hundreds of users, and PBKDF2 costs ~0.2 s per hash.
os.environ.setdefault("PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
# `serve` started by a test runs two daphne processes, not one per CPU of the machine.
os.environ.setdefault("SERVER_PROCESSES", "2")


def redis_url_with_db(url: str, offset: int) -> str:
    """The same server, database number shifted by `offset` (xdist worker n uses base + n)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + offset}"))


def isolate(env=os.environ) -> None:
    """Give this test process a key prefix (and, under xdist, a Redis database) of its own.

    The first process of a run (the only one, or xdist's controller) fixes the run's
    prefix: the given HUB_KEY_PREFIX (or `test`) plus a random tag, so nothing a
    previous or concurrent run left in Redis is ever seen. Workers add their id to it.
    """
    if "HUB_TEST_RUN_PREFIX" not in env:
        env["HUB_TEST_RUN_PREFIX"] = f"{env.get('HUB_KEY_PREFIX') or 'test'}-{secrets.token_hex(3)}"
        env["HUB_TEST_RUN_REDIS_URL"] = env.get("REDIS_URL", "")
    worker = env.get("PYTEST_XDIST_WORKER")  # gw0, gw1, … (unset without xdist)
    if not worker:
        env["HUB_KEY_PREFIX"] = env["HUB_TEST_RUN_PREFIX"]
        return
    env["HUB_KEY_PREFIX"] = f"{env['HUB_TEST_RUN_PREFIX']}-{worker}"
    if env["HUB_TEST_RUN_REDIS_URL"]:
        env["REDIS_URL"] = redis_url_with_db(env["HUB_TEST_RUN_REDIS_URL"], int(worker[2:]))


isolate()

from config.settings import *  # noqa: E402, F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405
