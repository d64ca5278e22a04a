"""Redis away or restarted empty: a fast path and a cache, never required (design rule 5).

The whole drill, with live servers, is tests/test_fault_redis_restart.py; these pin
each fix it needed, in process.
"""

import asyncio

import pytest
import redis

from conventions.ratelimit import Rate, RedisBuckets
from hub.fanout import Fanout
from hub.presence import RedisPresence
from hub.services import event_frame, send_to_processes, topic_get_or_create
from tests.faults import RedisServer
from tests.live import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def layer_on(url: str) -> dict:
    host = {"address": url, "socket_connect_timeout": 0.5}
    return {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [host], "prefix": "outage"}}  # fmt: skip


def dead_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


async def test_a_topic_first_joined_while_redis_was_away_gets_the_fast_path_back(
    tmp_path, settings
):
    server = RedisServer(tmp_path)
    server.start()
    settings.CHANNEL_LAYERS = {"default": layer_on(server.url)}
    settings.REDIS_URL = server.url
    fanout = Fanout()
    try:
        await fanout.start()
        server.kill()
        await asyncio.sleep(0.5)  # the layer has noticed: its subscribe now fails
        subscription = await fanout.attach("user:77", connection=object())  # type: ignore[arg-type]
        server.start()
        row = await asyncio.to_thread(topic_get_or_create, name="user:77")
        frame = event_frame(topic="user:77", event_type="said", data={}, ts="t", seq=1)
        # Nothing is in the log, so only the fast path can bring this event.
        for _ in range(50):
            await send_to_processes("user:77", frame, 1, row.epoch)
            await asyncio.sleep(0.1)
            if subscription.buffer:
                break
        assert subscription.buffer and subscription.buffer[0][0] == 1
    finally:
        await fanout.shutdown(1001)
        await fanout.layer.flush()
        server.kill()


async def test_presence_while_redis_is_away_lets_the_subscribe_through(settings, ws_user, connect):
    settings.REDIS_URL = dead_redis_url()
    settings.CHANNEL_LAYERS = {"default": layer_on(settings.REDIS_URL)}
    user, token = await ws_user()
    client = await connect(token)
    reply = await client.call("subscribe", topic="room:5")
    assert reply["ok"], reply
    assert reply["data"]["presence"] == [user.pk]


async def test_presence_renewal_writes_back_what_a_redis_restart_lost(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    presence = RedisPresence(server.url, ttl=60)
    try:
        assert await presence.join("room:1", 5, "c1")
        server.kill()
        server.start()
        assert await presence.members("room:1") == []
        lost = await presence.renew([("room:1", 5, "c1")])
        assert lost == [("room:1", 5, "c1")]
        assert await presence.members("room:1") == []  # a renewal alone re-adds nothing
        await presence.restore(lost)
        assert await presence.members("room:1") == [5]
        assert await presence.renew([("room:1", 5, "c1")]) == []
    finally:
        await presence.close()
        server.kill()


def test_rate_limits_fall_back_to_memory_while_redis_is_away():
    buckets = RedisBuckets(dead_redis_url())
    rate = Rate(per_second=0.001, burst=2)
    assert [buckets.take("k", rate) for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("k", rate) > 0  # still limited, per process for now
    with pytest.raises(redis.ConnectionError):
        buckets.client.ping()
