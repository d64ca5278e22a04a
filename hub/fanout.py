"""Per-process fan-out: one channel-layer membership per topic per server process.

Each server process has one channel in the layer and joins a topic's group when
its first local connection subscribes. An event therefore costs one message per
process, encoded once, and is handed here to every local subscriber's wire.
The process remembers the last seq it delivered per topic: duplicates are
dropped, a skipped seq is read back from the log, and a slow tail of the log
catches events whose fast-path message never came (no Redis, or an outage).
"""

import asyncio
import logging
import weakref
from collections.abc import Collection
from typing import Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from hub import conf, gc_schedule, metrics, selectors
from hub.dbthreads import in_db_thread
from hub.leaves import PendingLeaves
from hub.periodic import OUTAGE_ERRORS, every
from hub.presence import MemoryPresence, RedisPresence
from hub.registry import REGISTRY_BATCH_SECONDS, ConnectionBatch
from hub.revocation import Revocable, close_revoked
from hub.services import EventMessage, publish_ephemeral, stored_event_frame, topic_get_or_create
from hub.shutdown import stop_with_daphne
from hub.topics import group_name
from hub.wire import Outgoing, Wire

logger = logging.getLogger(__name__)


class LocalConnection(Revocable, Protocol):
    """What the fan-out needs of one of this process's sockets (hub.consumer.HubConsumer):
    what the revocation sweep needs, its wire and its presence topics."""

    @property
    def wire(self) -> Wire: ...

    @property
    def presence_topics(self) -> Collection[str]: ...


class Subscription:
    """One connection's view of one topic; buffers live events until its replay is sent."""

    __slots__ = ("buffer", "connection", "sent_seq")

    def __init__(self, connection: LocalConnection):
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
    __slots__ = ("epoch", "joined", "last_seq", "lock", "subscriptions", "topic_id")

    def __init__(self) -> None:
        self.subscriptions: set[Subscription] = set()
        self.last_seq: int | None = None
        self.topic_id: int | None = None
        self.epoch: str | None = None
        self.lock = asyncio.Lock()
        # False while the layer could not take our group membership (Redis away).
        self.joined = False


class Fanout:
    """The process's topic map; one per event loop."""

    _by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout]" = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self) -> None:
        self.topics: dict[str, TopicState] = {}
        self.connections: set[LocalConnection] = set()
        self.channel: str | None = None
        self.layer = get_channel_layer()
        self.presence = (
            RedisPresence(settings.REDIS_URL, conf.presence_ttl())
            if settings.REDIS_URL
            else MemoryPresence(conf.presence_ttl())
        )
        self.leaves = PendingLeaves(self.presence)
        self._tasks: list[asyncio.Task[None]] = []
        self._started = asyncio.Lock()
        self.stopping = False
        self.registry_batch = ConnectionBatch()
        self._starting: asyncio.Task[None] | None = None

    @classmethod
    def current(cls) -> "Fanout":
        loop = asyncio.get_running_loop()
        fanout = cls._by_loop.get(loop)
        if fanout is None:
            fanout = cls._by_loop[loop] = cls()
        return fanout

    @classmethod
    def of_loop(cls, loop: asyncio.AbstractEventLoop) -> "Fanout | None":
        """The fan-out a server loop runs, if it has started one (asked from other threads)."""
        return cls._by_loop.get(loop)

    async def start(self) -> None:
        async with self._started:
            if self._tasks:
                return
            try:
                self.channel = await self.layer.new_channel("hub.process.")
            except Exception as exc:  # Redis away: the receive loop makes it once it is back
                logger.warning("No channel in the layer yet (%s); the log tail delivers", exc)
            self._tasks = [
                asyncio.create_task(self._receive_loop(), name="hub-fanout-receive"),
                asyncio.create_task(
                    every(conf.tail_interval, self.catch_up, "Log tail"), name="hub-tail"
                ),
                asyncio.create_task(
                    every(lambda: conf.presence_ttl() / 3, self.renew_presence, "Presence renewal"),
                    name="hub-presence",
                ),
                asyncio.create_task(
                    every(lambda: REGISTRY_BATCH_SECONDS, self.registry_batch.write, "Registry"),
                    name="hub-registry",
                ),
                asyncio.create_task(metrics.queues_sampled(self.connections), name="hub-metrics"),
            ]
            if stop_with_daphne(self) and conf.gc_oldest_interval() > 0:
                gc_schedule.collect_oldest_on_schedule()
                self._tasks.append(
                    asyncio.create_task(
                        every(
                            conf.gc_oldest_interval,
                            gc_schedule.collect_oldest,
                            "Oldest-generation GC",
                        ),
                        name="hub-gc",
                    )
                )
                self._tasks.append(
                    asyncio.create_task(gc_schedule.collect_when_settled(), name="hub-gc-settled")
                )

    # --- connections and subscriptions ---------------------------------------

    def connection_opened(self, connection: LocalConnection) -> None:
        """Count a connection once it is authenticated (its `user` is set for good)."""
        user = connection.user
        assert user is not None, "only an authenticated connection is opened"
        self.connections.add(connection)
        metrics.connection_opened()
        self.registry_batch.opened(connection.connection_id, user.pk)
        gc_schedule.note_growth()
        if not self._tasks and self._starting is None:  # the registry batches need it
            self._starting = asyncio.get_running_loop().create_task(self.start())

    def connection_closed(self, connection: LocalConnection) -> None:
        if connection not in self.connections:
            return  # never authenticated, never recorded
        self.connections.discard(connection)
        metrics.connection_closed()
        gc_schedule.note_connection_closed()
        self.registry_batch.closed(connection.connection_id)

    async def attach(self, topic: str, connection: LocalConnection) -> Subscription:
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
                state.joined = await self._join(topic)
                try:
                    row = await in_db_thread(topic_get_or_create)(name=topic)
                except Exception:
                    del self.topics[topic]
                    await self._leave_group(topic)
                    raise
                state.topic_id, state.last_seq, state.epoch = row.pk, row.last_seq, row.epoch
        elif state.last_seq is None:
            # Its first attach is still reading the position. Waiting for it matters: a
            # replay read before that position could end below it, and the fast-path
            # copies between the two are dropped as delivered once the position is set.
            async with state.lock:
                pass
            if self.topics.get(topic) is not state:  # that attach failed: start afresh
                return await self.attach(topic, connection)
        subscription = Subscription(connection)
        gc_schedule.note_growth()
        state.subscriptions.add(subscription)
        metrics.subscribed()
        return subscription

    def position(self, topic: str) -> tuple[int, int, str]:
        """(topic id, last seq delivered here, epoch) of an attached topic.

        Read in the same loop step as the attach that returned (no await between):
        every later seq then reaches the new subscription, and every seq up to this
        one was committed before it was delivered, so the log holds it.
        """
        state = self.topics[topic]
        assert state.topic_id is not None and state.last_seq is not None and state.epoch
        return state.topic_id, state.last_seq, state.epoch

    async def detach(self, topic: str, subscription: Subscription) -> None:
        state = self.topics.get(topic)
        if state is None or subscription not in state.subscriptions:
            return
        state.subscriptions.remove(subscription)
        metrics.unsubscribed()
        if not state.subscriptions:
            del self.topics[topic]
            await self._leave_group(topic)

    async def _join(self, topic: str) -> bool:
        """Join the topic's group; False if the layer is away (the log tail delivers)."""
        if self.channel is None:
            return False
        try:
            await self.layer.group_add(group_name(topic), self.channel)
        except Exception as exc:
            logger.warning("Could not join %s in the channel layer (%s); will retry", topic, exc)
            return False
        return True

    async def _leave_group(self, topic: str) -> None:
        try:
            await self.layer.group_discard(group_name(topic), self.channel)
        except Exception:
            logger.warning("Could not leave %s in the channel layer", topic)

    async def rejoin(self) -> None:
        """Join the groups a layer outage kept us out of, so the fast path comes back.

        (A group joined before the outage is re-subscribed by redis-py on reconnect;
        one first joined during it was never subscribed at all.)
        """
        for topic, state in tuple(self.topics.items()):
            if not state.joined and self.topics.get(topic) is state and self.channel:
                try:
                    await self.layer.group_add(group_name(topic), self.channel)
                except Exception:
                    return  # still away: try again on the next tick
                state.joined = True
                logger.info("Rejoined %s in the channel layer", topic)

    # --- delivery --------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            try:
                if self.channel is None:  # the layer was away when this process started
                    self.channel = await self.layer.new_channel("hub.process.")
                message = await self.layer.receive(self.channel)
                await self.on_message(message)
            except asyncio.CancelledError:
                raise
            except OUTAGE_ERRORS:
                await asyncio.sleep(0.5)  # start() or _join() logged it
            except Exception:
                logger.exception("Fan-out receive failed; retrying")
                await asyncio.sleep(0.5)

    async def on_message(self, message: EventMessage) -> None:
        state = self.topics.get(message["topic"])
        if state is None or message.get("origin") != conf.deployment_id():
            return  # not ours: another deployment on this Redis server, say
        outgoing = Outgoing(message["frame"])
        seq = message.get("seq")
        if seq is None:
            for subscription in tuple(state.subscriptions):
                subscription.offer(None, outgoing)
            metrics.event_handed_over(outgoing, len(state.subscriptions))
            return
        async with state.lock:
            if state.last_seq is None:
                return  # the attach that made this state failed
            if message.get("epoch") != state.epoch:
                return  # another log's seq must never move this one's delivered mark
            if seq > state.last_seq + 1:
                await self._heal(message["topic"], state, upto=seq - 1)
            self._deliver(state, seq, outgoing)
            for more_seq, frame in message.get("more", ()):  # the rest of one commit
                self._deliver(state, more_seq, Outgoing(frame))

    @staticmethod
    def _deliver(state: TopicState, seq: int, outgoing: Outgoing) -> None:
        assert state.last_seq is not None, "delivery starts once attach read the position"
        if seq <= state.last_seq:
            return  # delivered already (a late fast-path copy of a healed event)
        state.last_seq = seq
        for subscription in tuple(state.subscriptions):
            subscription.offer(seq, outgoing)
        metrics.event_handed_over(outgoing, len(state.subscriptions))

    async def _heal(self, topic: str, state: TopicState, upto: int, why: str = "gap") -> None:
        """Deliver the events between what we delivered and `upto` from the log."""
        events = await database_sync_to_async(selectors.events_between)(
            topic_id=state.topic_id, after=state.last_seq, upto=upto
        )
        metrics.read_from_log(why, len(events))
        for event in events:
            self._deliver(state, event.seq, Outgoing(stored_event_frame(topic, event)))

    async def catch_up(self) -> None:
        """Deliver every committed event our topics have that the fast path did not bring."""
        await self.rejoin()
        names = [name for name, state in self.topics.items() if state.last_seq is not None]
        if not names:
            return
        positions = await database_sync_to_async(selectors.topic_positions)(names)
        for name, (_, last_seq) in positions.items():
            state = self.topics.get(name)
            if state is None or state.last_seq is None or last_seq <= state.last_seq:
                continue
            async with state.lock:
                await self._heal(name, state, upto=last_seq, why="tail")

    # --- presence --------------------------------------------------------------

    def _presence_entries(self) -> list[tuple[str, int, str]]:
        return [
            (topic, connection.user.pk, connection.connection_id)
            for connection in self.connections
            if connection.user is not None  # always: only authenticated ones are counted
            for topic in connection.presence_topics
        ]

    async def renew_presence(self) -> None:
        """Renew presence and the registry heartbeat; sweep revoked tokens on the same beat."""
        self.registry_batch.renew_heartbeat()
        await close_revoked(self.connections)
        entries = self._presence_entries()
        if entries:
            lost = await self.presence.renew(entries)
            if lost:  # Redis lost them (a restart): write back those still held now
                held = set(self._presence_entries())
                await self.presence.restore([entry for entry in lost if entry in held])
        for topic in {topic for topic, _, _ in entries}:
            for user_id in await self.presence.sweep(topic):
                await publish_ephemeral(
                    topic=topic, event_type="presence.leave", data={"user_id": user_id}
                )

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
        await self.registry_batch.forget()
