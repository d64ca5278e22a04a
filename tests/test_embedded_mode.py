"""The default a newcomer meets: `make run`'s server with no environment at all.

SQLite, the in-memory channel layer and the folder broker, served by daphne with a
Celery worker and beat, exactly as `manage.py serve` starts them.
"""

import asyncio
import json
import sqlite3
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import websockets

from tests.helpers import http_json
from tests.live import child_env, free_port, manage, running

EMBEDDED = {
    name: None
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS",
                 "SECURE_SSL_REDIRECT")
}  # fmt: skip


async def websocket_auth_and_ping(url: str, token: str) -> list[dict]:
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"op": "auth", "token": token, "ref": 1}))
        await ws.send(json.dumps({"op": "ping", "ref": 2}))
        return [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]


async def demo_people_book_and_chat(base: str, port: int) -> None:
    from datetime import date, timedelta

    from hub.client import Event, HubClient

    def login(email: str) -> dict:
        credentials = {"email": email, "password": "lessons-demo-2026"}
        return http_json(f"{base}/api/v1/auth/token", credentials)[1]

    student, teacher = login("student@example.com"), login("instructor@example.com")
    teacher_id = teacher["user"]["id"]
    _, instructor = http_json(f"{base}/api/v1/instructors/{teacher_id}", token=student["token"])
    service_id = instructor["services"][0]["id"]
    start, end = date.today() + timedelta(days=2), date.today() + timedelta(days=9)
    slots = http_json(
        f"{base}/api/v1/instructors/{teacher_id}/slots?service_id={service_id}"
        f"&start={start}&end={end}&tz=UTC",
        token=student["token"],
    )[1]["slots"]
    status, conversation = http_json(
        f"{base}/api/v1/conversations", {"participant_id": teacher_id}, student["token"]
    )
    assert status == 201
    topic = f"conversation:{conversation['id']}"
    url = f"ws://127.0.0.1:{port}/ws/v1/"
    async with HubClient(url, teacher["token"]) as other, HubClient(url, student["token"]) as me:
        await other.subscribe(f"user:{teacher_id}")
        await other.subscribe(topic)
        status, booking = await asyncio.to_thread(
            http_json,
            f"{base}/api/v1/bookings",
            {"service_id": service_id, "start": slots[0]["start"], "location_type": "online"},
            student["token"],
        )
        assert (status, booking["status"]) == (201, "confirmed")
        await me.publish(topic, "message.send", {"body": "See you then!", "client_id": "e1"})
        heard: dict[str, Event] = {}
        while not {"booking.confirmed", "message.created"} <= heard.keys():
            event = await other.next_event(10)
            if isinstance(event, Event):
                heard[event.type] = event
        assert heard["booking.confirmed"].data["id"] == booking["id"]
        assert heard["message.created"].data["body"] == "See you then!"


@pytest.fixture(scope="module")
def embedded_env(tmp_path_factory):
    """One embedded deployment (its data folder) for the module's tests."""
    env = child_env(**EMBEDDED, DATA_DIR=str(tmp_path_factory.mktemp("embedded")))
    result = manage("migrate", "--no-input", env=env)
    assert result.returncode == 0, result.stderr
    result = manage("demo_data", env=env)
    assert result.returncode == 0, result.stderr
    assert "instructor@example.com" in result.stdout
    # Loading twice changes nothing.
    assert manage("demo_data", env=env).returncode == 0
    return env


def test_make_run_server_end_to_end(embedded_env):
    data_dir = Path(embedded_env["DATA_DIR"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (data_dir / "serve.log").open("w")
    command = [sys.executable, "manage.py", "serve", "--port", str(port)]
    with running(command, embedded_env, wait_url=f"{base}/healthz", log=log):
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
            assert json.loads(response.read())["checks"] == {
                "database": "ok",
                "channel_layer": "ok",
            }
        status, registered = http_json(
            f"{base}/api/v1/auth/register",
            {
                "email": "newcomer@example.com",
                "password": "correct-horse-battery-9",
                "name": "Newcomer",
                "role": "student",
                "timezone": "Europe/Lisbon",
            },
        )
        assert status == 201
        status, login = http_json(
            f"{base}/api/v1/auth/token",
            {"email": "newcomer@example.com", "password": "correct-horse-battery-9"},
        )
        assert status == 200
        me = http_json(f"{base}/api/v1/me", token=login["token"])[1]
        assert me == {**registered["user"], "unread_notifications": 0}

        auth, pong = asyncio.run(
            websocket_auth_and_ping(f"ws://127.0.0.1:{port}/ws/v1/", login["token"])
        )
        assert auth["ok"] and auth["data"]["user_id"] == registered["user"]["id"]
        assert pong == {"op": "reply", "ok": True, "data": {}, "ref": 2}

        # The demo people book and chat, and the other side hears it live.
        asyncio.run(demo_people_book_and_chat(base, port))

        # A background job goes through the folder broker to the worker.
        database = data_dir / "db.sqlite3"
        with sqlite3.connect(database) as db:
            db.execute(
                "UPDATE accounts_apitoken SET revoked_at = '2000-01-01 00:00:00' WHERE user_id = ?",
                (registered["user"]["id"],),
            )
        enqueue = manage(
            "shell", "-c", "from accounts.tasks import tokens_prune as t; t.delay()",
            env=embedded_env,
        )  # fmt: skip
        assert enqueue.returncode == 0, enqueue.stderr
        deadline = time.monotonic() + 30
        remaining = None
        while time.monotonic() < deadline:
            with sqlite3.connect(database) as db:
                remaining = db.execute(
                    "SELECT COUNT(*) FROM accounts_apitoken WHERE revoked_at IS NOT NULL"
                ).fetchone()[0]
            if remaining == 0:
                break
            time.sleep(0.2)
        assert remaining == 0, (data_dir / "serve.log").read_text()[-3000:]


def test_racing_bookings_on_sqlite_make_one_booking(embedded_env):
    """Without PostgreSQL's exclusion constraint, immediate transactions serialise racers."""
    import subprocess

    from tests.live import ROOT

    result = subprocess.run(
        [sys.executable, "-m", "tests.sqlite_race"],
        cwd=ROOT, env=embedded_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"booked": 1, "conflicts": 11, "rows": 1, "vendor": "sqlite"}
