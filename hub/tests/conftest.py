"""A test topic family plugged into the real hub, as a domain app would plug one in."""

import pytest
from channels.db import database_sync_to_async

from accounts.services import token_create, user_create
from conventions.errors import Conflict
from hub import topics
from hub.services import publish, publish_ephemeral
from tests.helpers import PASSWORD


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


@pytest.fixture
def ws_user():
    counter = iter(range(1, 10_000))

    @database_sync_to_async
    def make(**fields):
        n = next(counter)
        user = user_create(email=f"hub{n}@example.com", password=PASSWORD, name=f"H{n}", **fields)
        return user, token_create(user=user)[1]

    return make
