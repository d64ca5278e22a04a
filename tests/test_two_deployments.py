"""Two deployments on one Redis server (the same database number, even): nothing of one
reaches the other's clients, and each still delivers every one of its own events.

With their default key prefixes (derived from their databases) their channels never
meet; with one prefix shared by mistake, the deployment id and epoch stamped on every
fast-path message still keep each server to its own events.
"""

import asyncio

import pytest

from accounts.services import token_create, user_create
from hub.client import Event, HubClient
from tests.helpers import PASSWORD, http_json
from tests.live import e2e_server_command, free_port, manage, running, server_env

pytestmark = pytest.mark.django_db(transaction=True)


def register(base: str, email: str) -> str:
    body = {"email": email, "password": PASSWORD, "name": "B", "role": "student",
            "timezone": "UTC"}  # fmt: skip
    status, answer = http_json(f"{base}/api/v1/auth/register", body)
    assert status == 201, answer
    return str(answer["token"])


async def traffic(url_a: str, token_a: str, url_b: str, token_b: str) -> tuple[list, list]:
    """Each deployment's listener on room:5 while both talk there, interleaved."""
    async with (
        HubClient(url_a, token_a) as listen_a,
        HubClient(url_b, token_b) as listen_b,
        HubClient(url_a, token_a) as talk_a,
        HubClient(url_b, token_b) as talk_b,
    ):
        await listen_a.subscribe("room:5")
        await listen_b.subscribe("room:5")
        for n in range(10):
            await talk_a.publish("room:5", "say", {"text": f"A{n}"})
            await talk_b.publish("room:5", "say", {"text": f"B{n}"})
        heard = ([], [])
        for listener, got in ((listen_a, heard[0]), (listen_b, heard[1])):
            while True:
                try:
                    event = await listener.next_event(1.5)
                except TimeoutError:
                    break
                if isinstance(event, Event):
                    got.append((event.seq, event.data["text"]))
        return heard


@pytest.mark.parametrize("prefix", [None, "one-prefix-for-both"], ids=["default", "shared"])
def test_nothing_crosses_and_each_delivers_all_of_its_own(tmp_path, prefix):
    env_a = server_env(HUB_KEY_PREFIX=prefix)  # None: each derives its own from its database
    env_b = env_a | {"DATABASE_URL": f"sqlite:///{tmp_path}/b.sqlite3"}
    migrated = manage("migrate", "--no-input", env=env_b)
    assert migrated.returncode == 0, migrated.stderr
    token_a = token_create(user=user_create(email="a@example.com", password=PASSWORD))[1]
    port_a, port_b = free_port(), free_port()
    with (
        running(e2e_server_command(port_a), env_a, wait_url=f"http://127.0.0.1:{port_a}/healthz"),
        running(e2e_server_command(port_b), env_b, wait_url=f"http://127.0.0.1:{port_b}/healthz"),
    ):
        token_b = register(f"http://127.0.0.1:{port_b}", "b@example.com")
        heard_a, heard_b = asyncio.run(
            traffic(f"ws://127.0.0.1:{port_a}/ws/v1/", token_a,
                    f"ws://127.0.0.1:{port_b}/ws/v1/", token_b)
        )  # fmt: skip
    assert heard_a == [(n + 1, f"A{n}") for n in range(10)]
    assert heard_b == [(n + 1, f"B{n}") for n in range(10)]
