"""Presence per user, the token bucket, and the bounded outgoing queue."""

import asyncio
import time

import pytest
from django.conf import settings

from conventions import ratelimit
from conventions.errors import RateLimited
from conventions.ratelimit import MemoryBuckets, Rate, RedisBuckets
from hub.presence import MemoryPresence, RedisPresence
from hub.wire import AsgiWire, Outgoing

pytestmark = pytest.mark.django_db(transaction=True)


async def presence_events(client, count: int) -> list[tuple[str, int]]:
    found = []
    while len(found) < count:
        frame = await client.recv()
        if frame.get("type", "").startswith("presence."):
            found.append((frame["type"], frame["data"]["user_id"]))
    return found


async def test_presence_is_per_user_not_per_tab(ws_user, connect):
    ana, ana_token = await ws_user()
    ben, ben_token = await ws_user()
    watcher = await connect(ben_token)
    reply = await watcher.call("subscribe", topic="room:20")
    assert reply["data"]["presence"] == [ben.pk]
    assert await presence_events(watcher, 1) == [("presence.join", ben.pk)]

    tab1 = await connect(ana_token)
    tab2 = await connect(ana_token)
    assert (await tab1.call("subscribe", topic="room:20"))["data"]["presence"] == sorted(
        [ana.pk, ben.pk]
    )
    assert await presence_events(watcher, 1) == [("presence.join", ana.pk)]
    assert (await tab2.call("subscribe", topic="room:20"))["ok"]
    await tab1.close()
    assert await watcher.nothing(0.5)  # a second tab joining or one of two leaving: silent
    await tab2.close()
    assert await presence_events(watcher, 1) == [("presence.leave", ana.pk)]
    assert (await watcher.call("subscribe", topic="room:20"))["data"]["presence"] == [ben.pk]


async def test_unsubscribe_leaves_presence(ws_user, connect):
    ana, ana_token = await ws_user()
    _, ben_token = await ws_user()
    watcher = await connect(ben_token)
    await watcher.call("subscribe", topic="room:21")
    ana_client = await connect(ana_token)
    await ana_client.call("subscribe", topic="room:21")
    await ana_client.call("unsubscribe", topic="room:21")
    events = await presence_events(watcher, 3)
    assert events[1:] == [("presence.join", ana.pk), ("presence.leave", ana.pk)]


async def test_entries_of_a_dead_process_expire_and_the_leave_is_announced(
    ws_user, connect, settings
):
    settings.HUB_PRESENCE_TTL_SECONDS = 0.6
    ghost, _ = await ws_user()
    _, token = await ws_user()
    # Another server process saw the ghost join, then died without saying goodbye.
    dead_process = RedisPresence(settings.REDIS_URL, ttl=0.6)
    assert await dead_process.join("room:22", ghost.pk, "dead-connection")
    await dead_process.close()
    watcher = await connect(token)
    reply = await watcher.call("subscribe", topic="room:22")
    assert ghost.pk in reply["data"]["presence"]
    events = await presence_events(watcher, 2)
    assert ("presence.leave", ghost.pk) in events
    # The watcher's own entry is renewed by its process and does not expire.
    await asyncio.sleep(1.0)
    reply = await watcher.call("subscribe", topic="room:22")
    assert reply["data"]["presence"] == [reply["data"]["presence"][0]]
    assert ghost.pk not in reply["data"]["presence"]


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_presence_stores_follow_the_same_rules(store):
    presence = (
        MemoryPresence(ttl=0.3) if store == "memory" else RedisPresence(settings.REDIS_URL, 0.3)
    )
    topic = f"room:test-{store}-{time.time()}"
    assert await presence.join(topic, 1, "a") is True
    assert await presence.join(topic, 1, "b") is False
    assert await presence.join(topic, 2, "c") is True
    assert await presence.members(topic) == [1, 2]
    assert await presence.leave(topic, 1, "a") is False
    assert await presence.leave(topic, 1, "a") is False  # twice changes nothing
    assert await presence.leave(topic, 1, "b") is True
    await presence.renew([(topic, 2, "c")])
    await asyncio.sleep(0.4)
    assert await presence.members(topic) == []
    assert await presence.sweep(topic) == [2]
    assert await presence.sweep(topic) == []
    await presence.close()


class Clock:
    """The buckets' clock, moved by the test: a slow machine refills no bucket early."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ratelimit, "time", clock)
    return clock


@pytest.mark.parametrize("buckets", [MemoryBuckets, lambda: RedisBuckets(settings.REDIS_URL)])
def test_token_bucket_allows_a_burst_then_refills(buckets, clock):
    store = buckets()
    key = f"test:{time.time()}"
    rate = Rate(per_second=20, burst=10)
    assert [store.take(key, rate) for _ in range(10)] == [0.0] * 10
    wait = store.take(key, rate)
    assert 0 < wait <= 0.05 + 1e-6
    clock.now += 0.12
    assert store.take(key, rate) == 0.0  # refilled
    assert store.take(f"{key}:other", rate) == 0.0  # buckets are separate


def test_take_raises_rate_limited_with_retry_after(clock):
    rate = Rate.per_minute(60, burst=10)
    key = f"test-take:{time.time()}"
    for _ in range(10):
        ratelimit.take(key, rate)
    with pytest.raises(RateLimited) as refused:
        ratelimit.take(key, rate)
    assert 0 < refused.value.retry_after <= 1.0


async def test_a_client_that_stops_reading_overflows_its_wire():
    stalled, in_flight = asyncio.Event(), asyncio.Event()
    sent, overflowed = [], asyncio.Event()

    async def send(message):
        sent.append(message)
        in_flight.set()
        await stalled.wait()  # the client stopped reading

    async def on_overflow():
        overflowed.set()

    wire = AsgiWire(send, limit=5, on_overflow=on_overflow)
    wire.push(Outgoing('{"n": 0}'))
    await asyncio.wait_for(in_flight.wait(), 1)  # the writer took it and is stuck sending it
    for n in range(1, 6):
        wire.push(Outgoing(f'{{"n": {n}}}'))
    assert not wire.overflowed  # one in flight, five waiting: at the limit, not over it
    wire.push(Outgoing('{"n": 6}'))
    await asyncio.wait_for(overflowed.wait(), 1)
    assert wire.overflowed
    wire.push(Outgoing('{"n": 7}'))  # ignored once overflowed
    assert len(sent) == 1
    wire.stop()


async def test_shutdown_closes_every_connection_with_1001(ws_user, connect):
    from hub.fanout import Fanout

    _, token = await ws_user()
    first = await connect(token)
    second = await connect(token)
    await Fanout.current().shutdown(code=1001)
    for client in (first, second):
        assert await client.comm.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": 1001,
        }
