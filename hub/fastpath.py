"""The fast path from synchronous code: one long-lived event loop per process, and on
a server's own loop, one sender that keeps the order events were committed in.

A sync publisher (a Celery task, a management command, a WSGI view) used to get
a fresh event loop per event, hence a fresh Redis connection (HELLO, SELECT, PING
before the PUBLISH). Here one daemon thread per process runs a loop that keeps its
channel-layer connection, so an event costs one PUBLISH. A forked child (Celery's
prefork pool) starts its own thread on first use instead of the parent's.
"""

import asyncio
import collections
import logging
import os
import threading
import weakref
from collections.abc import Coroutine, Mapping
from typing import Any

from channels.layers import get_channel_layer

from hub.topics import group_name

logger = logging.getLogger(__name__)


class SenderLoop:
    """A background event loop that sync code hands coroutines to, thread-safely."""

    def __init__(self, name: str = "hub-fast-path"):
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self.started = 0  # loops started in this process (for tests and diagnostics)

    def loop(self) -> asyncio.AbstractEventLoop:
        """This process's loop, started on first use (and again after a fork)."""
        loop = self._loop
        if loop is not None and self._pid == os.getpid():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = self._start()
                self._pid = os.getpid()
            return self._loop

    def _start(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        running = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(running.set)
            loop.run_forever()

        threading.Thread(target=run, name=self._name, daemon=True).start()
        running.wait()
        self.started += 1
        return loop

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float) -> Any:
        """Run `coroutine` on the loop and wait for its result (TimeoutError after `timeout`)."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop())
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def forget_after_fork(self) -> None:
        """In a forked child the parent's thread does not exist: start afresh on next use."""
        self._lock = threading.Lock()
        self._loop = None
        self._pid = None
        self.started = 0


sender_loop = SenderLoop()
os.register_at_fork(after_in_child=sender_loop.forget_after_fork)


class OrderedSender:
    """Layer messages that worker threads hand to the server's loop, sent one after
    another in hand-over order: a topic's events then reach every process in seq order,
    and none has to read one back from the log because a later one overtook it."""

    def __init__(self) -> None:
        self._waiting: collections.deque[Mapping[str, Any]] = collections.deque()
        self._task: asyncio.Task[None] | None = None

    def send(self, messages: list[Any]) -> None:
        """Called on the loop."""
        self._waiting.extend(messages)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        layer = get_channel_layer()
        try:
            while self._waiting:
                messages = list(self._waiting)
                self._waiting.clear()
                try:
                    await group_send_all(layer, messages)
                except Exception as error:  # the log has them; each process's tail delivers
                    logger.warning("Fast path failed for %d events (%s); the log tail will "
                                   "deliver them", len(messages), error)  # fmt: skip
        finally:
            self._task = None


async def group_send_all(layer: Any, messages: list[Mapping[str, Any]]) -> None:
    """Group messages in order. Over Redis pub/sub (channels-redis), all of them in one
    pipelined round trip per Redis server, instead of one awaited PUBLISH each, which on
    a busy loop waits a whole turn of the loop per event."""
    shards = _redis_shards(layer)
    if shards is None:
        for message in messages:
            await layer.group_send(group_name(message["topic"]), dict(message))
        return
    loop_layer = layer._get_layer()
    by_shard: dict[int, tuple[Any, list[tuple[str, bytes]]]] = {}
    for message in messages:
        channel = loop_layer._get_group_channel_name(group_name(message["topic"]))
        shard = loop_layer._get_shard(channel)
        by_shard.setdefault(id(shard), (shard, []))[1].append(
            (channel, layer.serialize(dict(message)))
        )
    for shard, publishes in by_shard.values():
        async with shard._lock:  # as the layer's own publish holds it
            shard._ensure_redis()
            pipe = shard._redis.pipeline(transaction=False)
            for channel, payload in publishes:
                pipe.publish(channel, payload)
            await pipe.execute()


def _redis_shards(layer: Any) -> list[Any] | None:
    """The layer's Redis connections, if it is channels-redis's pub/sub layer as this
    code knows it (tests/ check that it still is); None for any other layer."""
    get_layer = getattr(layer, "_get_layer", None)
    loop_layer = get_layer() if callable(get_layer) else None
    shards = getattr(loop_layer, "_shards", None)
    if not shards or not all(
        hasattr(shard, name) for shard in shards for name in ("_lock", "_ensure_redis")
    ):
        return None
    return list(shards)


_ordered: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, OrderedSender] = (
    weakref.WeakKeyDictionary()
)


def send_in_order(loop: asyncio.AbstractEventLoop, messages: list[Any]) -> None:
    """Run on `loop` (through call_soon_threadsafe): queue `messages` on its sender."""
    sender = _ordered.get(loop)
    if sender is None:
        sender = _ordered[loop] = OrderedSender()
    sender.send(messages)
