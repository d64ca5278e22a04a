"""The one WebSocket endpoint, `/ws/v1/`: parses frames and runs each op in order."""

import asyncio
import functools
import inspect
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError

from accounts.models import User
from accounts.services import token_authenticate
from conventions.errors import Forbidden, LimitExceeded, NotFound, ServiceError
from conventions.metrics import rate_limited
from hub import conf, metrics, protocol, topics
from hub.budget import OperationBudget
from hub.dbthreads import in_db_thread
from hub.fanout import Fanout, Subscription
from hub.intake import Intake
from hub.protocol import Command, CommandError, FrameError
from hub.selectors import Replay, replay_from_position, replay_since
from hub.services import publish_ephemeral, stored_event_frame
from hub.wire import Outgoing, close_socket, wire_for

logger = logging.getLogger(__name__)
T = TypeVar("T")

AUTH_DEADLINE_SECONDS = 10.0
# The answer to a frame that waited too long for its turn (hub.intake): not done, retry.
BUSY = "The server is busy and did not do this; try again in a moment."


def in_worker_thread(function: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Run ORM work on any of the pool's threads: the connect path's queries then
    overlap instead of queueing on the one thread Channels shares by default."""
    wrapped: Callable[..., Awaitable[T]] = in_db_thread(function)
    return wrapped


def _resolve(topic: object) -> tuple[str, topics.TopicFamily, int]:
    """topics.resolve(), with the name it accepted typed as the string it must be."""
    family, object_id = topics.resolve(topic)
    assert isinstance(topic, str)  # resolve() refuses anything else
    return topic, family, object_id


class HubConsumer(AsyncWebsocketConsumer):
    """One client connection: many topics, one socket, one bounded outgoing queue."""

    # Fan-out is per process (hub.fanout), so a connection needs no layer channel.
    channel_layer_alias = "__no_layer__"

    async def connect(self) -> None:
        self.connection_id = uuid.uuid4().hex
        self.user: User | None = None
        self.closed = False
        self.subscriptions: dict[str, Subscription] = {}
        # Sets made on first use: most connections never need them, and an idle
        # connection's memory is what caps how many one process can hold.
        self.presence_topics: set[str] | tuple[()] = ()
        self.authorized: set[str] | tuple[()] = ()
        self.auth_deadline: asyncio.TimerHandle | None = None
        self.budget = OperationBudget()
        await self.accept()
        self.wire = wire_for(self.base_send, conf.outgoing_queue_limit(), self._fell_behind)
        self.intake = Intake(self.base_send, conf.intake_limit())
        self.fanout = Fanout.current()
        session_user = self.scope.get("user")
        # Set for a page signed in by its session cookie: re-checked like a token.
        self.session_key: str | None = None
        if session_user is not None and session_user.is_authenticated:
            self.user = session_user
            self.session_key = self.scope["session"].session_key
            self.fanout.connection_opened(self)
        else:
            self._arm_auth_deadline()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its hop to the one shared thread per message (to close
        old database connections): every query here runs through hub.dbthreads or the
        group-commit writer, which tidy their own thread's connection, so connects
        and frames need not queue there (the hop was a tenth of a busy chat server's CPU)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def _arm_auth_deadline(self) -> None:
        if not self.closed:
            self.auth_deadline = asyncio.get_running_loop().call_later(
                AUTH_DEADLINE_SECONDS, self._auth_deadline_passed
            )

    def _auth_deadline_passed(self) -> None:
        self.auth_deadline = None
        if self.user is None and not self.closed:
            self._deadline_close = asyncio.get_running_loop().create_task(
                self.close(code=protocol.CLOSE_UNAUTHORIZED)
            )

    def _cancel_auth_deadline(self) -> None:
        if self.auth_deadline is not None:
            self.auth_deadline.cancel()
            self.auth_deadline = None

    async def _fell_behind(self) -> None:
        logger.info("Closing %s: it fell too far behind", self.connection_id)
        metrics.slow_consumer_closed()
        await self.close(code=protocol.CLOSE_SLOW_CONSUMER)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        self._cancel_auth_deadline()
        wire = getattr(self, "wire", None)
        if wire is None:
            return
        wire.stop()
        self.fanout.connection_closed(self)
        for topic in list(self.subscriptions):
            await self._leave(topic)

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        wire = getattr(self, "wire", None)
        if wire is not None and not wire.overflowed:
            await wire.flush()  # replies already queued go out before the close
        await close_socket(self.base_send, code or protocol.CLOSE_NORMAL)

    def push(self, text: str) -> None:
        """Every frame to this client goes through its wire, so order is kept."""
        self.wire.push(Outgoing(text))

    # --- frames ------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        waited = self.intake.waited()
        if self.closed:
            return
        if text_data is None:
            await self.close(code=protocol.CLOSE_UNSUPPORTED_DATA)
            return
        if len(text_data) * 4 > protocol.MAX_FRAME_BYTES and (
            len(text_data.encode()) > protocol.MAX_FRAME_BYTES
        ):
            await self.close(code=protocol.CLOSE_TOO_BIG)
            return
        ref: protocol.Ref = None
        try:
            command = protocol.parse_frame(text_data)
            ref = command.ref
            if waited > conf.backpressure_seconds() and command.op != "ping":
                rate_limited("backpressure")
                self.push(protocol.reply_error(ref, "rate_limited", BUSY, retry_after=1))
                return
            wait = self.budget.spend()
            if wait:
                await self._over_budget(ref, wait)
                return
            reply = await self.handle(command)
            if reply is not None:
                self.push(reply)
        except FrameError as exc:
            wait = self.budget.spend()
            if wait:
                await self._over_budget(None, wait)
                return
            self.push(protocol.error_frame(str(exc)))
        except CommandError as exc:
            self.push(protocol.reply_error(exc.ref, exc.code, exc.message, **exc.extra))
        except ServiceError as exc:
            extra = {"retry_after": exc.retry_after} if hasattr(exc, "retry_after") else {}
            self.push(protocol.reply_error(ref, exc.socket_code, exc.message, **extra))
        except (DatabaseOperationalError, DatabaseInterfaceError) as exc:
            # The database is briefly away or busy: nothing was done, the client may retry.
            logger.warning("Database unavailable handling a frame: %s", exc)
            message = "The service is busy; try again in a moment."
            self.push(protocol.reply_error(ref, "unavailable", message, retry_after=2))
        except Exception:
            logger.exception("Unexpected error handling a frame")
            self.push(protocol.reply_error(ref, "internal", "Something went wrong on our side."))

    async def _over_budget(self, ref: protocol.Ref, wait: float) -> None:
        """Refuse a frame over the connection's budget; close one that will not stop."""
        metrics.over_budget(closed=self.budget.exhausted)
        if self.budget.exhausted:
            logger.info("Closing %s: it kept sending over its budget", self.connection_id)
            await self.close(code=protocol.CLOSE_POLICY_VIOLATION)
            return
        message = "Too many commands on this connection; slow down."
        self.push(
            protocol.reply_error(
                ref, "rate_limited", message, retry_after=math.ceil(wait * 1000) / 1000
            )
        )

    async def handle(self, command: Command) -> str | None:
        """Run one command and return its encoded reply (None when it answered itself)."""
        if command.op == "ping":
            return protocol.reply_ok(command.ref)
        if command.op == "auth":
            return await self.op_auth(command)
        if self.user is None:
            raise CommandError(command.op, command.ref, "unauthorized", "Authenticate first.")
        handler = {
            "subscribe": self.op_subscribe,
            "unsubscribe": self.op_unsubscribe,
            "publish": self.op_publish,
        }.get(command.op)
        if handler is None:
            raise CommandError(
                command.op, command.ref, "bad_request", f"Unknown op {command.op!r}."
            )
        return await handler(command)

    # --- auth ----------------------------------------------------------------------

    async def op_auth(self, command: Command) -> str | None:
        token = command.body.get("token")
        if self.user is not None:
            if token is None:
                return protocol.reply_ok(command.ref, self._auth_data())
            user = None
            if isinstance(token, str):
                user = await in_worker_thread(token_authenticate)(token=token)
            if user is None or user.pk != self.user.pk:
                raise CommandError(
                    "auth", command.ref, "bad_request", "This connection is already authenticated."
                )
            return protocol.reply_ok(command.ref, self._auth_data())
        # The deadline is for sockets that never say who they are: this one has, and ends
        # authenticated or closed however long its token check waits (a reconnect storm).
        self._cancel_auth_deadline()
        try:
            user = (
                await in_worker_thread(token_authenticate)(token=token)
                if isinstance(token, str)
                else None
            )
        except BaseException:  # not answered (the database is away): the deadline again
            self._arm_auth_deadline()
            raise
        if user is None:
            self.push(protocol.reply_error(command.ref, "unauthorized", "Invalid token."))
            await self.close(code=protocol.CLOSE_UNAUTHORIZED)
            return None
        self.user = user
        self.fanout.connection_opened(self)
        return protocol.reply_ok(command.ref, self._auth_data())

    def _auth_data(self) -> dict[str, Any]:
        return {"user_id": self._signed_in().pk, "connection_id": self.connection_id}

    def _signed_in(self) -> User:
        """The connection's user, for the code that runs only once there is one."""
        assert self.user is not None, "reached only on an authenticated connection"
        return self.user

    # --- topics ------------------------------------------------------------------

    async def _authorize(self, topic: object) -> tuple[str, topics.TopicFamily, int]:
        """Resolve the topic and check, once per connection, that the user may use it."""
        name, family, object_id = _resolve(topic)
        if name not in self.authorized:
            allowed = await in_worker_thread(family.authorize)(self.user, object_id)
            if not allowed:
                raise Forbidden("You may not use this topic.")
            if not self.authorized:
                self.authorized = set()
            self.authorized.add(name)
        return name, family, object_id

    async def op_subscribe(self, command: Command) -> str | None:
        since, epoch = command.body.get("since"), command.body.get("epoch")
        if since is not None and (isinstance(since, bool) or not isinstance(since, int)):
            raise CommandError("subscribe", command.ref, "bad_request", "`since` is an integer.")
        if since is not None and since < 0:
            raise CommandError("subscribe", command.ref, "bad_request", "`since` is >= 0.")
        if epoch is not None and not isinstance(epoch, str):
            raise CommandError("subscribe", command.ref, "bad_request", "`epoch` is a string.")
        topic, family, _ = await self._authorize(command.body.get("topic"))
        if topic in self.subscriptions:
            replay = await in_worker_thread(replay_since)(name=topic, since=None, epoch=None)
            data = {"topic": topic, "seq": replay.seq, "epoch": replay.epoch, "recovered": False}
            if family.presence:
                data["presence"] = await self.fanout.presence.members(topic)
            return protocol.reply_ok(command.ref, data)
        if len(self.subscriptions) >= conf.max_topics_per_connection():
            raise LimitExceeded(
                f"At most {conf.max_topics_per_connection()} topics per connection."
            )
        subscription = await self.fanout.attach(topic, self)
        position = self.fanout.position(topic)  # no await since the attach: see position()
        self.subscriptions[topic] = subscription
        try:
            replay = await self._replay(topic, position, since, epoch)
            data = {
                "topic": topic,
                "seq": replay.seq,
                "epoch": replay.epoch,
                "recovered": replay.recovered,
            }
            if family.presence:
                data["presence"] = await self._join_presence(topic)
        except BaseException:
            await self._leave(topic)
            raise
        self.push(protocol.reply_ok(command.ref, data))
        for event in replay.events:
            self.push(stored_event_frame(topic, event))
        subscription.go_live(replay.seq)
        return None

    @staticmethod
    async def _replay(
        topic: str, position: tuple[int, int, str], since: int | None, epoch: str | None
    ) -> Replay:
        """The subscribe's replay, read from the log only when something was missed."""
        topic_id, seq, topic_epoch = position
        read = functools.partial(
            replay_from_position, topic_id=topic_id, seq=seq, topic_epoch=topic_epoch
        )
        if since is None or epoch != topic_epoch or since == seq:
            replay = read(since=since, epoch=epoch)  # nothing to read from the log
        else:
            replay = await in_worker_thread(read)(since=since, epoch=epoch)
        if replay is None:  # the client is ahead of this process: the log's position decides
            replay = await in_worker_thread(replay_since)(name=topic, since=since, epoch=epoch)
        return replay

    async def _join_presence(self, topic: str) -> list[int]:
        user = self._signed_in()
        first = await self.fanout.presence.join(topic, user.pk, self.connection_id)
        if not self.presence_topics:
            self.presence_topics = set()
        self.presence_topics.add(topic)
        # Yourself included, even when presence could not be read (Redis away).
        members = sorted({*await self.fanout.presence.members(topic), user.pk})
        # Back within the grace after leaving: nobody was told of the leave, so no join.
        if first and not self.fanout.leaves.cancel(topic, user.pk):
            await publish_ephemeral(
                topic=topic, event_type="presence.join", data={"user_id": user.pk}
            )
        return members

    async def op_unsubscribe(self, command: Command) -> str:
        topic, _, _ = _resolve(command.body.get("topic"))
        await self._leave(topic)
        return protocol.reply_ok(command.ref)

    async def _leave(self, topic: str) -> None:
        subscription = self.subscriptions.pop(topic, None)
        if subscription is not None:
            await self.fanout.detach(topic, subscription)
        if isinstance(self.presence_topics, set) and topic in self.presence_topics:
            self.presence_topics.discard(topic)
            try:
                user = self._signed_in()
                last = await self.fanout.presence.leave(topic, user.pk, self.connection_id)
            except Exception:  # the entry expires and the sweep announces the leave
                logger.warning("Could not record leaving %s", topic)
                return
            if last:
                self.fanout.leaves.later(topic, user.pk)

    async def op_publish(self, command: Command) -> str:
        type_, data = command.body.get("type"), command.body.get("data")
        topic, family, object_id = await self._authorize(command.body.get("topic"))
        if not isinstance(type_, str) or type_ not in family.handlers:
            raise NotFound(f"Topic family {family.name!r} accepts no {type_!r} publish.")
        if not isinstance(data, dict):
            raise CommandError("publish", command.ref, "bad_request", "`data` must be an object.")
        handler = family.handlers[type_]
        kwargs = {"user": self.user, "object_id": object_id, "data": data, "topic": topic}
        if inspect.iscoroutinefunction(handler):
            result = await handler(**kwargs)
        else:
            result = await database_sync_to_async(handler)(**kwargs)
        return protocol.reply_ok(command.ref, result or {})
