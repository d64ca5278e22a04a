"""A test topic family plugged into the real hub, as a domain app would plug one in."""

import contextlib
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.services import token_create, user_create
from config.asgi import application
from conventions.errors import Conflict
from hub import topics
from hub.services import publish, publish_ephemeral


def say(*, user, object_id, data, topic):
    return {
        "seq": publish(
            topic=topic, event_type="said", data={"by": user.pk, "text": data.get("text")}
        )
    }


async def wave(*, user, object_id, data, topic):
    await publish_ephemeral(topic=topic, event_type="waved", data={"user_id": user.pk})
    return {}


def refuse(*, user, object_id, data, topic):
    raise Conflict("Not now.")


def crash(*, user, object_id, data, topic):
    raise RuntimeError("a bug")


ROOM = topics.TopicFamily(
    name="room",
    authorize=lambda user, object_id: object_id < 1000,
    handlers={"say": say, "wave": wave, "refuse": refuse, "crash": crash},
    presence=True,
)


# The same without presence, for tests that count every frame.
FEED = topics.TopicFamily(name="feed", authorize=ROOM.authorize, handlers=ROOM.handlers)


@pytest.fixture(autouse=True)
def room_family():
    topics.register_family(ROOM)
    topics.register_family(FEED)
    yield ROOM
    topics.unregister_family("room")
    topics.unregister_family("feed")


@pytest.fixture(autouse=True)
def fast_tail(settings):
    settings.HUB_TAIL_INTERVAL_SECONDS = 0.2


class Client:
    """A WebsocketCommunicator that speaks JSON frames."""

    def __init__(self, headers=None):
        self.comm = WebsocketCommunicator(application, "/ws/v1/", headers=headers or [])
        self.refs = 0
        self.backlog: list[dict] = []  # frames that arrived while waiting for a reply

    async def open(self, token: str | None = None) -> "Client":
        connected, _ = await self.comm.connect()
        assert connected
        if token:
            reply = await self.call("auth", token=token)
            assert reply["ok"], reply
        return self

    async def send(self, frame: dict) -> None:
        await self.comm.send_to(text_data=json.dumps(frame))

    async def recv(self, timeout: float = 5) -> dict:
        if self.backlog:
            return self.backlog.pop(0)
        return json.loads(await self.comm.receive_from(timeout=timeout))

    async def call(self, op: str, **fields) -> dict:
        """Send a command and return its reply; events that came first wait in the backlog."""
        self.refs += 1
        await self.send({"op": op, "ref": self.refs, **fields})
        while True:
            frame = json.loads(await self.comm.receive_from(timeout=5))
            if frame.get("op") == "reply" and frame.get("ref") == self.refs:
                return frame
            self.backlog.append(frame)

    async def events(self, count: int, timeout: float = 5) -> list[dict]:
        return [await self.recv(timeout) for _ in range(count)]

    async def nothing(self, timeout: float = 0.3) -> bool:
        return not self.backlog and await self.comm.receive_nothing(timeout=timeout)

    async def close(self) -> None:
        await self.comm.disconnect()


@pytest.fixture
def ws_user():
    counter = iter(range(1, 10_000))

    @database_sync_to_async
    def make(**fields):
        n = next(counter)
        user = user_create(
            email=f"hub{n}@example.com", password="correct-horse-battery-9", name=f"H{n}", **fields
        )
        return user, token_create(user=user)[1]

    return make


@pytest.fixture
async def connect():
    opened: list[Client] = []

    async def make(token: str | None = None, headers=None) -> Client:
        client = await Client(headers).open(token)
        opened.append(client)
        return client

    yield make
    for client in opened:
        with contextlib.suppress(Exception):
            await client.close()
