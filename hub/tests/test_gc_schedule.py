"""The scheduled full GC collections under daphne: survivors frozen, frozen objects
collected again after enough closed connections, and a collection after a burst."""

import asyncio
import gc
import time

import pytest

from hub import gc_schedule


@pytest.fixture
def gc_state():
    saved = dict(vars(gc_schedule._thaw))
    yield gc_schedule._thaw
    gc.unfreeze()
    for name in ("closed_connections", "last", "grown", "last_growth"):
        setattr(gc_schedule._thaw, name, saved.get(name, getattr(gc_schedule._Thaw, name)))


async def test_survivors_are_frozen_and_thawed_after_closed_connections(settings, gc_state):
    settings.HUB_GC_THAW_AFTER_CLOSED_CONNECTIONS = 2
    settings.HUB_GC_THAW_INTERVAL_SECONDS = 3600
    gc_state.last, gc_state.closed_connections = time.monotonic(), 0
    survivors = [[] for _ in range(100)]
    frozen = gc.get_freeze_count()
    await gc_schedule.collect_oldest()
    assert gc.get_freeze_count() >= frozen + len(survivors)

    gc_schedule.note_connection_closed()
    await gc_schedule.collect_oldest()  # one closed: not yet
    assert gc_state.closed_connections == 1
    gc_schedule.note_connection_closed()
    await gc_schedule.collect_oldest()  # two: everything collected again, then frozen
    assert gc_state.closed_connections == 0
    assert gc.get_freeze_count() >= len(survivors)


async def test_a_burst_of_connections_is_collected_once_it_settles(settings, gc_state, monkeypatch):
    settings.HUB_GC_AFTER_NEW_CONNECTIONS = 3
    gc_state.last, gc_state.grown = time.monotonic(), 0  # earlier tests' connections count too
    collected, collect = asyncio.Event(), gc_schedule.collect_oldest
    # What the collector saw each time it looked: (connections grown, seconds quiet, collect?).
    looks: list[tuple[int, float, bool]] = []
    saw_the_pair_settled, decide = asyncio.Event(), gc_schedule.burst_has_settled

    def decide_and_record() -> bool:
        grown, quiet = gc_state.grown, time.monotonic() - gc_state.last_growth
        decision = decide()
        looks.append((grown, quiet, decision))
        if grown == 2 and quiet >= gc_schedule.GC_SETTLE_SECONDS:
            saw_the_pair_settled.set()
        return decision

    async def collect_and_tell() -> None:
        await collect()
        collected.set()

    monkeypatch.setattr(gc_schedule, "burst_has_settled", decide_and_record)
    monkeypatch.setattr(gc_schedule, "collect_oldest", collect_and_tell)
    collector = asyncio.create_task(gc_schedule.collect_when_settled())
    try:
        gc_schedule.note_growth()
        gc_schedule.note_growth()
        async with asyncio.timeout(10):  # the collector runs, and has looked since they settled
            await saw_the_pair_settled.wait()
        assert not collected.is_set()  # two new connections are no burst
        gc_schedule.note_growth()
        async with asyncio.timeout(10):
            await collected.wait()
    finally:
        collector.cancel()
    assert [grown for grown, _, collect_now in looks if collect_now] == [3]
    assert gc_state.grown == 0
    assert gc.get_freeze_count() > 0
