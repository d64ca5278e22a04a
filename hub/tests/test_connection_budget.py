"""One socket cannot keep a server busy: each connection has an operation budget, edits
are limited like sends, and a flapping subscription is not announced each time."""

import pytest
from channels.db import database_sync_to_async

from accounts.services import token_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def small_budget(settings):
    settings.HUB_OPERATIONS_PER_SECOND = 0.01  # no refill to speak of during a test
    settings.HUB_OPERATIONS_BURST = 10
    settings.HUB_OPERATIONS_REFUSED_BEFORE_CLOSE = 3


async def test_over_the_budget_commands_are_refused_then_the_socket_is_closed(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)  # auth: 1 of 10
    for _ in range(9):
        assert (await client.call("ping"))["ok"]
    for _ in range(3):
        refused = await client.call("ping")
        assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
        assert refused["error"]["retry_after"] > 0
    await client.send({"op": "ping", "ref": "one too many"})
    assert await client.comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 1008}


async def test_frames_that_are_not_commands_cost_too(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    for _ in range(9):
        await client.comm.send_to(text_data="not json")
        assert (await client.recv())["error"]["code"] == "bad_request"
    await client.comm.send_to(text_data="not json")
    assert (await client.recv())["error"]["code"] == "rate_limited"


async def test_the_budget_is_per_connection(ws_user, connect):
    user, token = await ws_user()
    first = await connect(token)
    for _ in range(9):
        await first.call("ping")
    assert (await first.call("ping"))["ok"] is False
    other_token = await database_sync_to_async(lambda: token_create(user=user)[1])()
    second = await connect(other_token)
    assert (await second.call("ping"))["ok"]  # the user's other socket is unaffected


async def test_a_quick_rejoin_is_announced_neither_as_a_leave_nor_a_join(
    ws_user, connect, settings
):
    settings.HUB_OPERATIONS_BURST = 100
    settings.HUB_PRESENCE_LEAVE_GRACE_SECONDS = 0.5
    _, watcher_token = await ws_user()
    _, flapper_token = await ws_user()
    watcher = await connect(watcher_token)
    await watcher.call("subscribe", topic="room:31")
    (own,) = await watcher.events(1)  # its own arrival
    assert own["type"] == "presence.join"
    flapper = await connect(flapper_token)
    await flapper.call("subscribe", topic="room:31")
    (joined,) = await watcher.events(1)
    assert joined["type"] == "presence.join" and joined["data"] != own["data"]
    for _ in range(5):  # a flapping client: off and on again, quickly
        await flapper.call("unsubscribe", topic="room:31")
        await flapper.call("subscribe", topic="room:31")
    assert await watcher.nothing(timeout=1.0)  # past the grace: nothing was announced
    await flapper.call("unsubscribe", topic="room:31")
    (left,) = await watcher.events(1, timeout=3)
    assert (left["type"], left["data"]) == ("presence.leave", joined["data"])
