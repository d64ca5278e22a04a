"""Per-process fan-out: one channel-layer membership per topic per server process.

Each server process has one channel in the layer and joins a topic's group when
its first local connection subscribes. An event therefore costs one message per
process, encoded once, and is handed here to every local subscriber's wire.
The process remembers the last seq it delivered per topic: duplicates are
dropped, a skipped seq is read back from the log, and a slow tail of the log
catches events whose fast-path message never came (no Redis, or an outage).
"""

import asyncio
import gc
import logging
import signal
import sys
import time
import uuid
import weakref

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from accounts.services import tokens_still_valid
from hub import conf, registry, selectors
from hub.presence import MemoryPresence, RedisPresence
from hub.protocol import CLOSE_UNAUTHORIZED
from hub.services import publish_ephemeral, stored_event_frame
from hub.topics import group_name
from hub.wire import Outgoing

logger = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 5


class Subscription:
    """One connection's view of one topic; buffers live events until its replay is sent."""

    __slots__ = ("buffer", "connection", "sent_seq")

    def __init__(self, connection):
        self.connection = connection
        self.sent_seq = 0
        self.buffer: list[tuple[int | None, Outgoing]] | None = []

    def offer(self, seq: int | None, outgoing: Outgoing) -> None:
        if self.buffer is not None:
            self.buffer.append((seq, outgoing))
        elif seq is None:
            self.connection.wire.push(outgoing)
        elif seq > self.sent_seq:
            self.sent_seq = seq
            self.connection.wire.push(outgoing)

    def go_live(self, sent_seq: int) -> None:
        """Release what arrived during the replay, skipping anything already sent."""
        self.sent_seq = sent_seq
        buffered, self.buffer = self.buffer or [], None
        for seq, outgoing in buffered:
            self.offer(seq, outgoing)


class TopicState:
    __slots__ = ("last_seq", "lock", "subscriptions", "topic_id")

    def __init__(self):
        self.subscriptions: set[Subscription] = set()
        self.last_seq: int | None = None
        self.topic_id: int | None = None
        self.lock = asyncio.Lock()


# How often a process writes its opened and closed connections (one batch each time).
REGISTRY_BATCH_SECONDS = 1.0


class Fanout:
    """The process's topic map; one per event loop."""

    _by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout]" = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self):
        self.topics: dict[str, TopicState] = {}
        self.connections: set = set()
        self.channel: str | None = None
        self.layer = get_channel_layer()
        self.presence = (
            RedisPresence(settings.REDIS_URL, conf.presence_ttl())
            if settings.REDIS_URL
            else MemoryPresence(conf.presence_ttl())
        )
        self._tasks: list[asyncio.Task] = []
        self._started = asyncio.Lock()
        self.stopping = False
        # The connection registry (hub.registry): changes waiting for the next batch.
        self.process_id = uuid.uuid4().hex
        self._opened: dict[str, int] = {}
        self._closed: set[str] = set()
        self._heartbeat_due = True
        self._starting: asyncio.Task | None = None

    @classmethod
    def current(cls) -> "Fanout":
        loop = asyncio.get_running_loop()
        fanout = cls._by_loop.get(loop)
        if fanout is None:
            fanout = cls._by_loop[loop] = cls()
        return fanout

    async def start(self) -> None:
        async with self._started:
            if self.channel is not None:
                return
            self.channel = await self.layer.new_channel("hub.process.")
            self._tasks = [
                asyncio.create_task(self._receive_loop(), name="hub-fanout-receive"),
                asyncio.create_task(
                    self._every(conf.tail_interval, self.catch_up, "Log tail"), name="hub-tail"
                ),
                asyncio.create_task(
                    self._every(
                        lambda: conf.presence_ttl() / 3, self.renew_presence, "Presence renewal"
                    ),
                    name="hub-presence",
                ),
                asyncio.create_task(
                    self._every(
                        lambda: REGISTRY_BATCH_SECONDS, self.record_connections, "Registry"
                    ),
                    name="hub-registry",
                ),
            ]
            if _stop_with_daphne(self) and conf.gc_oldest_interval() > 0:
                _collect_oldest_on_schedule()
                self._tasks.append(
                    asyncio.create_task(
                        self._every(
                            conf.gc_oldest_interval, _collect_oldest, "Oldest-generation GC"
                        ),
                        name="hub-gc",
                    )
                )
                self._tasks.append(
                    asyncio.create_task(_collect_when_settled(), name="hub-gc-settled")
                )

    # --- connections and subscriptions ---------------------------------------

    def connection_opened(self, connection) -> None:
        self.connections.add(connection)
        self._opened[connection.connection_id] = connection.user.pk
        _note_growth()
        if self.channel is None and self._starting is None:  # the registry batches need it
            self._starting = asyncio.get_running_loop().create_task(self.start())

    def connection_closed(self, connection) -> None:
        if connection not in self.connections:
            return  # never authenticated, never recorded
        self.connections.discard(connection)
        _note_connection_closed()
        if self._opened.pop(connection.connection_id, None) is None:
            self._closed.add(connection.connection_id)

    async def attach(self, topic: str, connection) -> Subscription:
        """Start receiving a topic's live events for a connection (buffered for now).

        A topic new to this process joins the layer group first and then reads its
        position from the log, holding the topic's lock meanwhile: from then on the
        process delivers every seq after that position exactly once, in order.
        """
        await self.start()
        state = self.topics.get(topic)
        if state is None:
            state = self.topics[topic] = TopicState()
            async with state.lock:
                try:
                    await self.layer.group_add(group_name(topic), self.channel)
                except Exception:  # the log tail delivers until the layer is back
                    logger.warning("Could not join %s in the channel layer", topic)
                try:
                    topic_id, last_seq = await database_sync_to_async(selectors.topic_position)(
                        topic
                    )
                except Exception:
                    del self.topics[topic]
                    raise
                state.topic_id, state.last_seq = topic_id, last_seq
        subscription = Subscription(connection)
        _note_growth()
        state.subscriptions.add(subscription)
        return subscription

    async def detach(self, topic: str, subscription: Subscription) -> None:
        state = self.topics.get(topic)
        if state is None:
            return
        state.subscriptions.discard(subscription)
        if not state.subscriptions:
            del self.topics[topic]
            try:
                await self.layer.group_discard(group_name(topic), self.channel)
            except Exception:
                logger.warning("Could not leave %s in the channel layer", topic)

    # --- delivery --------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
                await self.on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Fan-out receive failed; retrying")
                await asyncio.sleep(0.5)

    async def on_message(self, message: dict) -> None:
        state = self.topics.get(message["topic"])
        if state is None:
            return
        outgoing = Outgoing(message["frame"])
        seq = message.get("seq")
        if seq is None:
            for subscription in tuple(state.subscriptions):
                subscription.offer(None, outgoing)
            return
        async with state.lock:
            if state.last_seq is None:
                return  # the attach that made this state failed
            if seq > state.last_seq + 1:
                await self._heal(message["topic"], state, upto=seq - 1)
            self._deliver(state, seq, outgoing)

    @staticmethod
    def _deliver(state: TopicState, seq: int, outgoing: Outgoing) -> None:
        if seq <= state.last_seq:
            return  # delivered already (a late fast-path copy of a healed event)
        state.last_seq = seq
        for subscription in tuple(state.subscriptions):
            subscription.offer(seq, outgoing)

    async def _heal(self, topic: str, state: TopicState, upto: int) -> None:
        """Deliver the events between what we delivered and `upto` from the log."""
        events = await database_sync_to_async(selectors.events_between)(
            topic_id=state.topic_id, after=state.last_seq, upto=upto
        )
        for event in events:
            self._deliver(state, event.seq, Outgoing(stored_event_frame(topic, event)))

    @staticmethod
    async def _every(interval, job, what: str) -> None:
        """Run `job` every `interval()` seconds for the process's life, surviving failures."""
        while True:
            await asyncio.sleep(interval())
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("%s failed; retrying", what, exc_info=True)

    async def catch_up(self) -> None:
        """Deliver every committed event our topics have that the fast path did not bring."""
        names = [name for name, state in self.topics.items() if state.last_seq is not None]
        if not names:
            return
        positions = await database_sync_to_async(selectors.topic_positions)(names)
        for name, (_, last_seq) in positions.items():
            state = self.topics.get(name)
            if state is None or state.last_seq is None or last_seq <= state.last_seq:
                continue
            async with state.lock:
                await self._heal(name, state, upto=last_seq)

    # --- presence --------------------------------------------------------------

    async def record_connections(self) -> None:
        """Write the connections opened and closed since the last batch (hub.registry)."""
        if not (self._opened or self._closed or self._heartbeat_due):
            return
        opened, closed, heartbeat = self._opened, self._closed, self._heartbeat_due
        self._opened, self._closed, self._heartbeat_due = {}, set(), False
        try:
            await database_sync_to_async(registry.connections_record)(
                process_id=self.process_id, opened=opened, closed=closed, heartbeat=heartbeat
            )
        except Exception:  # the database is away: keep the batch for the next round
            logger.warning("Could not record %d connection changes; will retry", len(opened))
            opened.update(self._opened)
            closed |= self._closed
            never_written = closed & opened.keys()  # opened and closed again meanwhile
            self._opened = {c: u for c, u in opened.items() if c not in never_written}
            self._closed = closed - never_written
            self._heartbeat_due = True

    async def renew_presence(self) -> None:
        self._heartbeat_due = True
        await self.close_revoked()
        entries = [
            (topic, connection.user.pk, connection.connection_id)
            for connection in self.connections
            for topic in connection.presence_topics
        ]
        if entries:
            await self.presence.renew(entries)
        for topic in {topic for topic, _, _ in entries}:
            for user_id in await self.presence.sweep(topic):
                await publish_ephemeral(topic, "presence.leave", {"user_id": user_id})

    async def close_revoked(self) -> None:
        """Close (4001) sockets whose token was revoked or whose user was deactivated.

        One query per process per presence interval, so a logout or a blocked
        account ends its open sockets within about 20 s, on every process.
        """
        by_token: dict[int, list] = {}
        for connection in self.connections:
            api_token = getattr(connection.user, "api_token", None)
            if api_token is not None:
                by_token.setdefault(api_token.pk, []).append(connection)
        if not by_token:
            return
        valid = await database_sync_to_async(tokens_still_valid)(token_ids=set(by_token))
        for token_id, connections in by_token.items():
            if token_id not in valid:
                for connection in connections:
                    logger.info(
                        "Closing %s: its token is no longer valid", connection.connection_id
                    )
                    await connection.close(code=CLOSE_UNAUTHORIZED)

    # --- shutdown --------------------------------------------------------------

    async def shutdown(self, code: int) -> None:
        """Close every local connection (1001: reconnect elsewhere) and stop."""
        self.stopping = True
        await asyncio.gather(
            *(connection.close(code=code) for connection in tuple(self.connections)),
            return_exceptions=True,
        )
        for task in self._tasks:
            task.cancel()
        await self.presence.close()
        try:
            await database_sync_to_async(registry.process_forget)(process_id=self.process_id)
        except Exception:  # its rows stop counting when the heartbeat ages
            logger.warning("Could not remove this process from the connection registry")


def _collect_oldest_on_schedule() -> None:
    """Run the cyclic GC's full collections on a timer instead of mid-delivery.

    CPython starts a full collection from whatever allocation tips it over, which
    is usually an event's fan-out or a burst of connects, and with a thousand
    connections it stops the loop for over 100 ms. The objects of startup (modules,
    classes, settings) are frozen out of every later scan, and full collections
    run from a periodic job instead (`_collect_oldest`); the young generations stay
    automatic.
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 2**31 - 1)
    _thaw.closed_connections = 0
    _thaw.last = time.monotonic()


class _Thaw:
    """What the scheduled full collections go by (the GC is per process, so is this)."""

    closed_connections = 0  # since the frozen objects were last collected
    last = 0.0  # when that was
    grown = 0  # connections opened or subscribed since the last full collection
    last_growth = 0.0


_thaw = _Thaw()
# A burst of new connections this large is collected (and frozen) once it settles.
GC_SETTLE_SECONDS = 0.1


def _note_connection_closed() -> None:
    _thaw.closed_connections += 1


def _note_growth() -> None:
    _thaw.grown += 1
    _thaw.last_growth = time.monotonic()


async def _collect_when_settled() -> None:
    """Collect soon after a burst of connections ends, not at a random moment later.

    A full collection after the heap grew by many connections is the one long
    pause freezing cannot avoid; taken a tenth of a second after the burst settles
    (reconnects after a deploy, a class joining), it lands before their traffic
    rather than in the middle of some later fan-out.
    """
    while True:
        await asyncio.sleep(GC_SETTLE_SECONDS)
        if (
            _thaw.grown >= conf.gc_after_new_connections()
            and time.monotonic() - _thaw.last_growth >= GC_SETTLE_SECONDS
        ):
            await _collect_oldest()


async def _collect_oldest() -> None:
    """One scheduled full collection; its survivors are frozen so the next one skips them.

    A full collection of everything scans every live connection (~65 ms with 1,000
    of them), however little garbage there is. Freezing the survivors makes each
    collection scan only what was created since the last one (a few ms). The price:
    a cycle among frozen objects, such as a connection alive at one collection and
    closed later, is not freed until the frozen objects are collected again. That
    is bounded here: once `gc_thaw_after_closed()` connections have closed, or
    `gc_thaw_interval()` seconds have passed, everything is unfrozen and collected
    (the long pause, but rare), then frozen again.
    """
    thaw = (
        _thaw.closed_connections >= conf.gc_thaw_after_closed()
        or time.monotonic() - _thaw.last >= conf.gc_thaw_interval()
    )
    started = time.perf_counter()
    if thaw:
        gc.unfreeze()
    gc.collect(2)
    gc.freeze()
    paused_ms = 1000 * (time.perf_counter() - started)
    _thaw.grown = 0
    if thaw:
        _thaw.closed_connections, _thaw.last = 0, time.monotonic()
    log = logger.info if thaw or paused_ms > 20 else logger.debug
    log(
        "Full GC%s: %.1f ms, %d objects frozen",
        " (thawed)" if thaw else "",
        paused_ms,
        gc.get_freeze_count(),
    )


def _stop_with_daphne(fanout: Fanout) -> bool:
    """Under daphne, SIGTERM/SIGINT first close every client with 1001, then stop.

    daphne's own shutdown cancels the connections without a close frame, so the
    signal is taken here and the reactor stopped once the clients are told.
    Returns whether this process is daphne's.
    """
    if "twisted.internet.reactor" not in sys.modules:
        return False
    from twisted.internet import reactor

    if not reactor.running:
        return False
    loop = asyncio.get_running_loop()

    async def close_then_stop() -> None:
        try:
            await asyncio.wait_for(fanout.shutdown(code=1001), SHUTDOWN_GRACE_SECONDS)
            await asyncio.sleep(0.2)  # let the close frames reach the sockets
        finally:
            reactor.stop()

    def on_signal(signum, frame) -> None:
        if not fanout.stopping:
            loop.call_soon_threadsafe(lambda: loop.create_task(close_then_stop()))

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    return True
