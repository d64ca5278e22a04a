"""Erasure seen over the live protocol: the person's sockets close with 4001, the other
side hears it live, and a replay of the conversation carries none of their words."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from privacy.services import account_erase
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


async def close_code(client, timeout: float = 5.0) -> int:
    """The code the server closed the socket with, skipping frames sent before it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        output = await client.comm.receive_output(
            timeout=deadline - asyncio.get_running_loop().time()
        )
        if output["type"] == "websocket.close":
            return output["code"]


async def events_until(client, event_type: str) -> list[dict]:
    seen = []
    while not seen or seen[-1].get("type") != event_type:
        seen.append(await client.recv())
    return seen


async def test_the_erased_persons_socket_closes_and_the_other_side_hears_it(
    connect, world, settings
):
    settings.HUB_PRESENCE_TTL_SECONDS = 0.6  # the revocation sweep runs every 0.2 s
    topic = f"conversation:{world.conversation.pk}"
    leaving = await connect(world.student_token)
    staying = await connect(world.instructor_token)
    assert (await leaving.call("subscribe", topic=topic))["ok"]
    epoch = (await staying.call("subscribe", topic=topic))["data"]["epoch"]
    inbox = await staying.call("subscribe", topic=f"user:{world.instructor.pk}")
    assert inbox["ok"]

    done = await database_sync_to_async(account_erase)(user=world.student, password=PASSWORD)
    assert done[1]
    assert await close_code(leaving) == 4001
    await leaving.close()
    heard = await events_until(staying, "participant.erased")
    assert heard[-1]["data"] == {"user_id": world.student.pk, "name": "deleted user"}
    updated = await events_until(staying, "conversation.updated")
    assert updated[-1]["data"]["student"]["name"] == "deleted user"

    # A client resuming from the start replays the conversation as it is now.
    again = await connect(world.instructor_token)
    reply = await again.call("subscribe", topic=topic, since=0, epoch=epoch)
    assert reply["data"]["recovered"]
    replay = []
    while len(replay) < reply["data"]["seq"]:
        event = await again.recv()
        if "seq" in event:  # not presence, which carries none
            replay.append(event)
    assert [e["seq"] for e in replay] == list(range(1, reply["data"]["seq"] + 1))
    text = json.dumps(replay)
    assert "My secret is 42" not in text and "Noted, see you" in text
    said = next(e for e in replay if e["data"].get("id") == world.said.pk)
    assert (said["data"]["body"], said["data"]["deleted"]) == (None, True)


async def test_a_closed_account_cannot_send_over_its_still_open_socket(connect, world):
    topic = f"conversation:{world.conversation.pk}"
    leaving = await connect(world.student_token)
    await database_sync_to_async(account_erase)(user=world.student, password=PASSWORD)
    # Before the sweep closes it, a send is refused and stores nothing.
    sent = await leaving.call(
        "publish", topic=topic, type="message.send", data={"body": "still here?", "client_id": "z"}
    )
    assert sent["ok"] is False
    assert sent["error"]["code"] == "unauthorized"
