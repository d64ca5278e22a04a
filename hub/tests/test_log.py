"""The durable log: gapless seqs in commit order, commit-only delivery, resume, healing."""

import asyncio
import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from hub import consumer, selectors, services, tasks
from hub.fanout import Fanout
from hub.models import Event, Topic
from tests.helpers import on_worker, publish_from_worker
from tests.live import free_port

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = ThreadPoolExecutor(max_workers=16)


def on_own_connection(function, *args, **kwargs):
    """Run ORM work, then close the thread's connection, as another request or worker would."""
    try:
        return function(*args, **kwargs)
    finally:
        connection.close()


def in_thread(function, *args, **kwargs):
    """Run ORM work on its own connection in another thread, from async code."""
    work = functools.partial(on_own_connection, function, *args, **kwargs)
    return asyncio.get_running_loop().run_in_executor(THREADS, work)


def publish_many(topic: str, count: int, start: int = 0) -> list[int]:
    return [
        services.publish(topic=topic, event_type="said", data={"n": start + n})
        for n in range(count)
    ]


def publish_without_fast_path(topic: str, n: int) -> int:
    """Publish while this process cannot reach Redis: the event is in the log only."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    layer = {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
             "CONFIG": {"hosts": [{"address": dead, "socket_connect_timeout": 0.5}]}}  # fmt: skip
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        return services.publish(topic=topic, event_type="said", data={"n": n})


async def said(client, count: int, timeout: float = 5) -> list[dict]:
    events = []
    while len(events) < count:
        frame = await client.recv(timeout)
        if frame.get("type") == "said":
            events.append(frame)
    return events


async def test_concurrent_publishers_get_gapless_seqs_and_a_subscriber_gets_all_in_order(
    ws_user, connect
):
    _, token = await ws_user()
    client = await connect(token)
    await client.call("subscribe", topic="feed:1")
    barrier = threading.Barrier(8)

    def publisher(worker: int) -> list[int]:
        barrier.wait()
        return publish_many("feed:1", 25, start=worker * 100)

    results = await asyncio.gather(*(in_thread(publisher, w) for w in range(8)))
    seqs = sorted(seq for result in results for seq in result)
    assert seqs == list(range(1, 201))
    events = await said(client, 200)
    assert [event["seq"] for event in events] == list(range(1, 201))
    # Commit order is seq order: each publisher's own events arrive in its order.
    for worker in range(8):
        mine = [e["data"]["n"] for e in events if e["data"]["n"] // 100 == worker]
        assert mine == sorted(mine)
    stored = await in_thread(
        lambda: list(Event.objects.filter(topic__name="feed:1").values_list("seq", flat=True))
    )
    assert sorted(stored) == list(range(1, 201))
    assert await client.nothing()


async def test_event_frame_shape(ws_user, connect):
    user, token = await ws_user()
    client = await connect(token)
    await client.call("subscribe", topic=f"user:{user.pk}")
    await in_thread(
        services.publish,
        topic=f"user:{user.pk}",
        event_type="booking.created",
        data={"id": 7, "x": [1]},
    )
    event = await client.recv()
    assert set(event) == {"op", "topic", "seq", "type", "data", "ts"}
    assert event["op"] == "event" and event["topic"] == f"user:{user.pk}" and event["seq"] == 1
    assert event["type"] == "booking.created" and event["data"] == {"id": 7, "x": [1]}
    assert event["ts"].endswith("Z") and len(event["ts"]) == 24


async def test_rolled_back_event_is_never_stored_or_delivered(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    await client.call("subscribe", topic="feed:2")

    def publish_then_fail():
        with pytest.raises(RuntimeError), transaction.atomic():
            services.publish(topic="feed:2", event_type="said", data={"n": "ghost"})
            raise RuntimeError("the domain change failed")

    await in_thread(publish_then_fail)
    assert await client.nothing(0.5)
    assert not await in_thread(lambda: Event.objects.filter(data__n="ghost").exists())
    # The counter rolled back too: the next event is seq 1.
    assert (
        await in_thread(services.publish, topic="feed:2", event_type="said", data={"n": "real"})
        == 1
    )
    event = (await said(client, 1))[0]
    assert (event["seq"], event["data"]) == (1, {"n": "real"})


async def test_delivery_waits_for_commit(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    await client.call("subscribe", topic="feed:3")
    committed = threading.Event()
    release = threading.Event()

    def slow_transaction():
        with transaction.atomic():
            services.publish(topic="feed:3", event_type="said", data={"n": 1})
            committed.set()
            release.wait(5)

    task = asyncio.ensure_future(in_thread(slow_transaction))
    await asyncio.to_thread(committed.wait, 5)
    assert await client.nothing(0.5)  # published but not committed: nothing yet
    release.set()
    await task
    assert (await said(client, 1))[0]["seq"] == 1


async def test_resume_replays_exactly_what_was_missed_then_continues_live(ws_user, connect):
    _, token = await ws_user()
    first = await connect(token)
    await in_thread(publish_many, "feed:4", 3)
    reply = (await first.call("subscribe", topic="feed:4"))["data"]
    assert reply["seq"] == 3
    await first.close()

    await in_thread(publish_many, "feed:4", 50, 100)
    second = await connect(token)
    reply = await second.call("subscribe", topic="feed:4", since=3, epoch=reply["epoch"])
    assert reply["data"]["recovered"] is True and reply["data"]["seq"] == 53
    replayed = await said(second, 50)
    assert [e["seq"] for e in replayed] == list(range(4, 54))
    assert [e["data"]["n"] for e in replayed] == list(range(100, 150))
    await in_thread(services.publish, topic="feed:4", event_type="said", data={"n": "live"})
    live = (await said(second, 1))[0]
    assert (live["seq"], live["data"]["n"]) == (54, "live")
    assert await second.nothing()


async def test_resume_seam_has_no_gap_and_no_duplicate_under_concurrent_publishing(
    ws_user, connect, monkeypatch
):
    # A resume meets every interleaving with publishers, each made to happen: seqs 1-100
    # are delivered here before it (the replay reads them from the log, up to the
    # process's delivered position); 101-150 commit after the connection is registered
    # but before the log is read (live only, buffered until the replay is sent); 151 is
    # uncommitted while the log is read (live only); 152-300 commit after the reply.
    _, token = await ws_user()
    probe = await connect(token)
    epoch = (await probe.call("subscribe", topic="feed:5"))["data"]["epoch"]
    await in_thread(publish_many, "feed:5", 100)
    await said(probe, 100)  # this process has delivered 1-100
    state = Fanout.current().topics["feed:5"]
    held, release = threading.Event(), threading.Event()
    buffered: list[int] = []
    holding = []
    read_log = consumer.replay_from_position

    def publish_151_and_hold_it_uncommitted() -> None:
        with transaction.atomic():
            publish_many("feed:5", 1, start=150)
            held.set()
            release.wait(10)

    def read_log_mid_publishing(**kwargs):
        """Runs once the connection is registered for the topic, just before the log is read."""
        THREADS.submit(on_own_connection, publish_many, "feed:5", 50, 100).result()
        deadline = time.monotonic() + 5
        while state.last_seq < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        buffered.extend(
            seq for sub in state.subscriptions if sub.buffer is not None for seq, _ in sub.buffer
        )
        holding.append(THREADS.submit(on_own_connection, publish_151_and_hold_it_uncommitted))
        held.wait(5)
        return read_log(**kwargs)

    monkeypatch.setattr(consumer, "replay_from_position", read_log_mid_publishing)
    client = await connect(token)
    reply = (await client.call("subscribe", topic="feed:5", since=0, epoch=epoch))["data"]
    assert (reply["recovered"], reply["seq"]) == (True, 100)
    assert buffered == list(range(101, 151))  # arrived live while the replay was being read
    release.set()
    await asyncio.wrap_future(holding[0])
    await in_thread(publish_many, "feed:5", 149, 151)
    events = await said(client, 300)
    assert [(e["seq"], e["data"]["n"]) for e in events] == [(n + 1, n) for n in range(300)]
    assert await client.nothing()


@pytest.mark.parametrize("case", ["wrong_epoch", "no_epoch", "too_many", "from_the_future"])
async def test_resume_not_possible_gives_recovered_false_and_nothing(
    ws_user, connect, settings, case
):
    settings.HUB_REPLAY_LIMIT = 10
    _, token = await ws_user()
    client = await connect(token)
    epoch = (await client.call("subscribe", topic="feed:6"))["data"]["epoch"]
    await client.call("unsubscribe", topic="feed:6")
    await in_thread(publish_many, "feed:6", 11 if case == "too_many" else 3)
    fields = {
        "wrong_epoch": {"since": 0, "epoch": "0000000000000000"},
        "no_epoch": {"since": 0},
        "too_many": {"since": 0, "epoch": epoch},
        "from_the_future": {"since": 99, "epoch": epoch},
    }[case]
    reply = await client.call("subscribe", topic="feed:6", **fields)
    assert reply["data"]["recovered"] is False
    assert reply["data"]["epoch"] == epoch
    assert await client.nothing()


async def test_replay_limit_is_inclusive(ws_user, connect, settings):
    settings.HUB_REPLAY_LIMIT = 10
    _, token = await ws_user()
    client = await connect(token)
    epoch = (await client.call("subscribe", topic="feed:6"))["data"]["epoch"]
    await client.call("unsubscribe", topic="feed:6")
    await in_thread(publish_many, "feed:6", 10)
    reply = await client.call("subscribe", topic="feed:6", since=0, epoch=epoch)
    assert reply["data"]["recovered"] is True
    assert len(await said(client, 10)) == 10


async def test_pruned_events_cannot_be_recovered(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    epoch = (await client.call("subscribe", topic="feed:7"))["data"]["epoch"]
    await client.call("unsubscribe", topic="feed:7")
    await in_thread(publish_many, "feed:7", 5)

    def age_and_prune():
        old = timezone.now() - timedelta(days=8)
        Event.objects.filter(topic__name="feed:7", seq__lte=2).update(created_at=old)
        return tasks.events_prune(), tasks.events_prune()

    assert await in_thread(age_and_prune) == (2, 0)
    reply = await client.call("subscribe", topic="feed:7", since=0, epoch=epoch)
    assert reply["data"]["recovered"] is False
    # Resuming after the pruned part still works.
    await client.call("unsubscribe", topic="feed:7")
    reply = await client.call("subscribe", topic="feed:7", since=2, epoch=epoch)
    assert reply["data"]["recovered"] is True
    assert [e["seq"] for e in await said(client, 3)] == [3, 4, 5]


async def test_a_lost_fast_path_message_is_healed_when_the_next_seq_arrives(
    ws_user, connect, settings
):
    settings.HUB_TAIL_INTERVAL_SECONDS = 60  # only the gap can reveal the loss here
    _, token = await ws_user()
    client = await connect(token)
    await client.call("subscribe", topic="feed:8")
    await in_thread(publish_without_fast_path, "feed:8", 1)
    assert await client.nothing(0.3)
    await in_thread(services.publish, topic="feed:8", event_type="said", data={"n": 2})
    events = await said(client, 2)
    assert [(e["seq"], e["data"]["n"]) for e in events] == [(1, 1), (2, 2)]


async def test_the_log_tail_delivers_what_the_fast_path_lost(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    await client.call("subscribe", topic="feed:9")
    await in_thread(publish_without_fast_path, "feed:9", 1)
    event = (await said(client, 1, timeout=5))[0]
    assert (event["seq"], event["data"]["n"]) == (1, 1)
    assert await client.nothing(0.5)


async def test_an_event_published_by_a_celery_worker_reaches_subscribers(ws_user, connect, worker):
    _, token = await ws_user()
    client = await connect(token)
    await client.call("subscribe", topic="feed:10")
    assert await asyncio.to_thread(on_worker, publish_from_worker, ("feed:10", 1)) == 1
    event = (await said(client, 1))[0]
    assert event["data"] == {"n": 1, "from": "worker"} and event["seq"] == 1


def test_topic_rows_keep_their_epoch(db):
    services.publish(topic="feed:11", event_type="said", data={})
    topic = Topic.objects.get(name="feed:11")
    services.publish(topic="feed:11", event_type="said", data={})
    topic.refresh_from_db()
    assert topic.last_seq == 2 and len(topic.epoch) == 16
    assert str(topic) == "feed:11 @ 2"


async def test_a_client_ahead_of_this_process_resumes_from_the_log(ws_user, connect):
    # The client saw seq 2 through another process; this one has delivered only seq 1
    # (seq 2 reached the log but not its fast path): the log's position decides, so the
    # client is told it recovered (not to resync) and gets seq 2 once, never again.
    _, token = await ws_user()
    probe = await connect(token)
    epoch = (await probe.call("subscribe", topic="feed:8"))["data"]["epoch"]
    await in_thread(publish_many, "feed:8", 1)
    await said(probe, 1)
    await in_thread(publish_without_fast_path, "feed:8", 1)
    assert Fanout.current().topics["feed:8"].last_seq == 1
    client = await connect(token)
    reply = (await client.call("subscribe", topic="feed:8", since=2, epoch=epoch))["data"]
    assert (reply["recovered"], reply["seq"]) == (True, 2)
    await in_thread(publish_many, "feed:8", 1, 2)
    assert [e["seq"] for e in await said(client, 1)] == [3]
    assert await client.nothing()


def test_a_replay_at_the_process_position_reads_the_log_only_for_missed_events(
    django_assert_num_queries,
):
    topic = services.topic_get_or_create(name="feed:9")
    publish_many("feed:9", 3)
    position = {"topic_id": topic.pk, "seq": 3, "topic_epoch": topic.epoch}
    with django_assert_num_queries(0):
        fresh = selectors.replay_from_position(**position, since=None, epoch=None)
        stale_epoch = selectors.replay_from_position(**position, since=1, epoch="0" * 16)
        caught_up = selectors.replay_from_position(**position, since=3, epoch=topic.epoch)
        ahead = selectors.replay_from_position(**position, since=4, epoch=topic.epoch)
    assert (fresh.seq, fresh.recovered, fresh.events) == (3, False, [])
    assert (stale_epoch.recovered, stale_epoch.epoch) == (False, topic.epoch)
    assert (caught_up.recovered, caught_up.events) == (True, [])
    assert ahead is None  # the log decides
    with django_assert_num_queries(1):
        missed = selectors.replay_from_position(**position, since=1, epoch=topic.epoch)
    assert missed.recovered and [e.seq for e in missed.events] == [2, 3]
    Event.objects.filter(topic=topic, seq=2).delete()  # pruned
    pruned = selectors.replay_from_position(**position, since=1, epoch=topic.epoch)
    assert (pruned.recovered, pruned.events) == (False, [])
