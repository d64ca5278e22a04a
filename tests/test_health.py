"""Health endpoints against really unreachable dependencies (closed ports)."""

import json
import urllib.error
import urllib.request

import pytest

from accounts.services import token_create, user_create
from tests.helpers import http_json
from tests.live import child_env, daphne_command, database_url, free_port, running


@pytest.fixture
def closed_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed


@pytest.fixture(scope="module")
def without_database(live_servers) -> int:
    """A server whose database is a closed port, shared by the tests that need one."""
    closed = free_port()
    (port,) = live_servers.start(daphne_command, child_env(DATABASE_URL=database_url(closed)))
    return port


def test_healthz_and_readyz_when_all_is_up(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db(transaction=True)
def test_database_down(without_database):
    port = without_database
    assert http_json(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ok"})
    status, body = http_json(f"http://127.0.0.1:{port}/readyz")
    assert status == 503
    assert body["checks"] == {"database": "down", "channel_layer": "ok"}


@pytest.mark.django_db(transaction=True)
def test_redis_down(closed_port):
    port = free_port()
    env = child_env(DATABASE_URL=database_url(), REDIS_URL=f"redis://127.0.0.1:{closed_port}/0")
    with running(daphne_command(port), env, wait_url=f"http://127.0.0.1:{port}/healthz"):
        status, body = http_json(f"http://127.0.0.1:{port}/readyz")
        assert status == 503
        assert body["checks"] == {"database": "ok", "channel_layer": "down"}


@pytest.mark.django_db(transaction=True)
def test_database_unreachable_is_503_with_retry_after_and_nothing_leaked(without_database):
    user = user_create(email="leak@example.com", password="correct-horse-battery-9", name="L")
    token = token_create(user=user)[1]
    request = urllib.request.Request(f"http://127.0.0.1:{without_database}/api/v1/me")
    request.add_header("Authorization", f"Bearer {token}")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 503
    assert answer.value.headers["Retry-After"] == "2"
    assert json.loads(answer.value.read()) == {
        "error": {
            "code": "unavailable",
            "message": "The service is busy; try again in a moment.",
            "details": None,
        }
    }


def test_an_unexpected_error_is_500_internal_with_nothing_leaked(rf):
    from config.api import on_unexpected

    response = on_unexpected(rf.get("/api/v1/me"), RuntimeError("secret detail"))
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "error": {
            "code": "internal",
            "message": "Something went wrong on our side.",
            "details": None,
        }
    }


@pytest.mark.django_db(transaction=True)
def test_the_socket_answers_unavailable_while_the_database_is_away(without_database):
    import asyncio

    import websockets

    user = user_create(email="sock@example.com", password="correct-horse-battery-9", name="S")
    token = token_create(user=user)[1]

    async def scenario() -> list[dict]:
        url = f"ws://127.0.0.1:{without_database}/ws/v1/"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"op": "auth", "token": token, "ref": 1}))
            auth = json.loads(await asyncio.wait_for(ws.recv(), 10))
            await ws.send(json.dumps({"op": "ping", "ref": 2}))  # still open
            return [auth, json.loads(await asyncio.wait_for(ws.recv(), 10))]

    auth, pong = asyncio.run(scenario())
    assert (auth["ok"], auth["ref"], auth["error"]["code"]) == (False, 1, "unavailable")
    assert auth["error"]["retry_after"] == 2
    assert pong == {"op": "reply", "ok": True, "data": {}, "ref": 2}
