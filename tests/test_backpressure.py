"""Backpressure on a live daphne: a client that sends far faster than its frames are
served gets every frame answered, the late ones refused (`rate_limited`, nothing done)
instead of queued for minutes, and the other clients are served meanwhile."""

import asyncio
import urllib.request

import orjson
import pytest
import websockets

from accounts.services import token_create, user_create
from chat.models import Message
from chat.services import conversation_open
from tests.live import daphne_command, free_port, running, server_env

pytestmark = pytest.mark.django_db(transaction=True)

FRAMES = 400


async def call(ws, frame: dict) -> dict:
    await ws.send(orjson.dumps(frame).decode())
    while True:
        answer = orjson.loads(await ws.recv())
        if answer.get("op") == "reply" and answer.get("ref") == frame["ref"]:
            return answer


def test_a_flood_is_answered_in_full_late_frames_refused_and_others_still_served():
    password = "correct-horse-battery-9"
    student = user_create(email="a@example.com", password=password, name="Ana", role="student")
    teacher = user_create(email="b@example.com", password=password, name="Ben",
                          role="instructor")  # fmt: skip
    conversation = conversation_open(user=student, participant_id=teacher.pk)[0]
    a_token, b_token = token_create(user=student)[1], token_create(user=teacher)[1]
    topic = f"conversation:{conversation.pk}"
    port = free_port()
    url = f"ws://127.0.0.1:{port}/ws/v1/"
    env = server_env(
        HUB_BACKPRESSURE_SECONDS="0.05", HUB_INTAKE_FRAMES="8",
        HUB_OPERATIONS_PER_SECOND="100000", HUB_OPERATIONS_BURST="100000",
        CHAT_MESSAGE_RATE_PER_MINUTE="1000000", CHAT_MESSAGE_BURST="100000",
        METRICS_TOKEN="metrics-secret",
    )  # fmt: skip

    async def scenario():
        async with websockets.connect(url) as flood, websockets.connect(url) as other:
            assert (await call(flood, {"op": "auth", "ref": 1, "token": a_token}))["ok"]
            assert (await call(other, {"op": "auth", "ref": 1, "token": b_token}))["ok"]
            frames = [
                {"op": "publish", "ref": 10 + n, "topic": topic, "type": "message.send",
                 "data": {"body": f"m{n}", "client_id": f"m{n}"}}
                for n in range(FRAMES)
            ]  # fmt: skip
            for frame in frames:
                await flood.send(orjson.dumps(frame).decode())
            # Meanwhile another client is served at once (its own queue is empty).
            assert (await call(other, {"op": "ping", "ref": 2}))["ok"]
            replies = {}
            while len(replies) < FRAMES:
                frame = orjson.loads(await asyncio.wait_for(flood.recv(), 60))
                if frame.get("op") == "reply":
                    assert frame["ref"] not in replies
                    replies[frame["ref"]] = frame
            return replies

    with running(daphne_command(port), env, wait_url=f"http://127.0.0.1:{port}/healthz"):
        replies = asyncio.run(scenario())
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
        request.add_header("Authorization", "Bearer metrics-secret")
        with urllib.request.urlopen(request, timeout=10) as response:
            metrics = response.read().decode()
    done = {r["data"]["message"]["client_id"] for r in replies.values() if r["ok"]}
    refused = [r for r in replies.values() if not r["ok"]]
    assert done and refused
    for reply in refused:
        assert reply["error"]["code"] == "rate_limited" and reply["error"]["retry_after"] == 1
    assert f'hub_rate_limited_total{{limit="backpressure"}} {float(len(refused))}' in metrics
    # What was refused was not done; what was answered ok is stored, once.
    stored = Message.objects.filter(conversation=conversation).values_list("client_id", flat=True)
    assert sorted(stored) == sorted(done)
