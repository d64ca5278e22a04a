"""hub.groupcommit (items that arrive during a write go together in the next) and the
fast path's pipelined sending of a commit's events."""

import asyncio
import threading
import time

import pytest
from channels.layers import get_channel_layer

from hub.fastpath import _redis_shards, group_send_all
from hub.groupcommit import GroupCommit
from hub.topics import group_name

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    """A writer that takes its time and remembers each batch it was given."""

    def __init__(self, poison: object = None):
        self.batches: list[list[object]] = []
        self.poison = poison
        self.threads: set[str] = set()

    def write(self, items: list[object]) -> list[object]:
        self.batches.append(list(items))
        self.threads.add(threading.current_thread().name)
        time.sleep(0.05)
        if self.poison in items and len(items) > 1:
            raise RuntimeError("the whole transaction failed")
        return [
            ValueError(f"bad {item}") if item == self.poison else f"ok {item}" for item in items
        ]


async def test_items_arriving_during_a_write_go_together_in_the_next():
    recorder = Recorder()
    commit: GroupCommit[int, str] = GroupCommit("test.batches", recorder.write)
    first = asyncio.ensure_future(commit.submit(0))
    await asyncio.sleep(0.01)  # the first write is under way
    rest = await asyncio.gather(*(commit.submit(n) for n in range(1, 11)))
    assert await first == "ok 0"
    assert rest == [f"ok {n}" for n in range(1, 11)]
    assert recorder.batches == [[0], list(range(1, 11))]
    assert len(recorder.threads) == 1  # one writer thread, which keeps its connection


async def test_a_failed_batch_is_written_item_by_item_so_only_the_culprit_fails():
    recorder = Recorder(poison=3)
    commit: GroupCommit[int, str] = GroupCommit("test.poison", recorder.write)
    blocker = asyncio.ensure_future(commit.submit(0))
    await asyncio.sleep(0.01)
    outcomes = await asyncio.gather(
        *(commit.submit(n) for n in range(1, 6)), return_exceptions=True
    )
    await blocker
    assert [str(o) for o in outcomes] == ["ok 1", "ok 2", "bad 3", "ok 4", "ok 5"]
    assert isinstance(outcomes[2], ValueError)
    assert recorder.batches[1] == [1, 2, 3, 4, 5]  # tried together first, then alone
    assert recorder.batches[2:] == [[1], [2], [3], [4], [5]]


async def test_a_sender_that_went_away_does_not_stop_the_others():
    recorder = Recorder()
    commit: GroupCommit[int, str] = GroupCommit("test.gone", recorder.write)
    blocker = asyncio.ensure_future(commit.submit(0))
    await asyncio.sleep(0.01)
    gone = asyncio.ensure_future(commit.submit(1))
    stays = asyncio.ensure_future(commit.submit(2))
    await asyncio.sleep(0)
    gone.cancel()
    assert await stays == "ok 2"
    await blocker
    assert recorder.batches[1] == [1, 2]  # still written: it was handed over


async def test_a_commits_events_reach_the_processes_in_order_in_one_round_trip():
    layer = get_channel_layer()
    assert _redis_shards(layer) is not None, "channels-redis's pub/sub layer changed shape"
    topic = "feed:977"
    channel = await layer.new_channel("test.")
    await layer.group_add(group_name(topic), channel)
    messages = [
        {
            "type": "hub.event",
            "topic": topic,
            "seq": n,
            "epoch": "e",
            "origin": "o",
            "frame": f'{{"n":{n}}}',
        }
        for n in range(1, 6)
    ]
    await group_send_all(layer, messages)
    got = [await asyncio.wait_for(layer.receive(channel), 5) for _ in messages]
    assert [m["seq"] for m in got] == [1, 2, 3, 4, 5]
    await layer.group_discard(group_name(topic), channel)
