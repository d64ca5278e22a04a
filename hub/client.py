"""An asyncio client for the live protocol v1, on the `websockets` package.

    async with HubClient("ws://127.0.0.1:8000/ws/v1/", token) as hub:
        await hub.subscribe("user:42")
        async for event in hub.events():
            print(event.topic, event.seq, event.type, event.data)

It authenticates with the first frame, matches replies to requests by `ref`, and
after a dropped connection reconnects, authenticates again and resubscribes every
topic with `since` (the last seq it saw) and `epoch`, so nothing is missed. When
the server cannot recover a topic, the iterator yields a `Resync` for it: reload
that topic's state over REST.
"""

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.frames import Frame, Opcode
from websockets.protocol import Event as WebSocketEvent

logger = logging.getLogger(__name__)

# Close codes after which reconnecting cannot help.
FINAL_CLOSE_CODES = {1003, 1008, 1009, 4001}
# Refusals that say "not now": a reconnect that meets one backs off and tries again.
RETRY_LATER_CODES = {"unavailable", "rate_limited"}

# Called with a successful reply's `data` as soon as it is parsed.
OnReply = Callable[[dict[str, Any]], None]


class HubError(Exception):
    """An `ok: false` reply."""

    def __init__(self, code: str, message: str, retry_after: float | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retry_after = code, message, retry_after


class HubClosed(Exception):
    """The connection ended for good (for example 4001: the token was refused)."""

    def __init__(self, code: int | None):
        super().__init__(f"connection closed with {code}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    type: str
    data: Any
    ts: str
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Resync:
    """The server could not replay what this topic missed; reload it over REST."""

    topic: str
    seq: int
    epoch: str


class _FrameConnection(ClientConnection):
    """websockets' client connection, handing each whole text frame on as it is parsed.

    A frame goes straight from the socket's read callback to `on_text` (as bytes,
    which orjson parses without a str copy) instead of through websockets' message
    queue and a reader task's wake-up: one event costs one callback, not a task
    step per connection. Fragmented and binary messages take websockets' own path.
    """

    def __init__(
        self, protocol: ClientProtocol, on_text: Callable[[bytes], None], **kwargs: Any
    ) -> None:
        super().__init__(protocol, **kwargs)
        self._on_text = on_text

    def process_event(self, event: WebSocketEvent) -> None:
        # After the handshake's response every event is a Frame; isinstance says so to mypy.
        if (
            self.response is not None
            and isinstance(event, Frame)
            and event.opcode is Opcode.TEXT
            and event.fin
        ):
            self._on_text(event.data)
        else:
            super().process_event(event)


@dataclass
class _Position:
    seq: int = 0
    epoch: str | None = None
    presence: list[int] = field(default_factory=list)


class HubClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        reconnect: bool = True,
        origin: str | None = None,
    ):
        self.url, self.token, self.reconnect, self.origin = url, token, reconnect, origin
        self.user_id: int | None = None
        self.connection_id: str | None = None
        self.positions: dict[str, _Position] = {}
        self.duplicates = 0  # events at or below a seq already seen (the server owes none)
        self.close_code: int | None = None
        self._refs = itertools.count(1)
        # ref -> (the reply's future, what to run on the reply before any later frame)
        self._pending: dict[int, tuple[asyncio.Future[dict[str, Any]], OnReply | None]] = {}
        self._events: asyncio.Queue[Event | Resync | HubClosed] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "HubClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- connection ----------------------------------------------------------------

    async def connect(self) -> None:
        """Open the socket, authenticate, and resubscribe whatever was subscribed."""
        headers = {"Origin": self.origin} if self.origin else None
        self._ws = await websockets.connect(
            self.url,
            additional_headers=headers,
            max_size=2**20,
            ping_interval=None,
            # websockets documents a wrapper as welcome here, but annotates the
            # parameter as the class only.
            create_connection=self._make_connection,  # type: ignore[arg-type]
        )
        self._reader = asyncio.create_task(self._read_loop(self._ws))
        auth = await self.request("auth", token=self.token)
        self.user_id, self.connection_id = auth["user_id"], auth["connection_id"]
        self._connected.set()
        for topic, position in list(self.positions.items()):
            try:
                await self._subscribe(topic, position)
            except HubError as exc:  # e.g. no longer allowed: stop following it
                if exc.code in RETRY_LATER_CODES:  # a busy server: reconnect later
                    await self._ws.close()
                    raise
                logger.warning("Could not resubscribe %s: %s", topic, exc)
                self.positions.pop(topic, None)

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    def _make_connection(self, protocol: ClientProtocol, **kwargs: Any) -> _FrameConnection:
        return _FrameConnection(protocol, self._on_text, **kwargs)

    def _on_text(self, data: bytes | str) -> None:
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            logger.warning("Unparseable frame from the server: %.200r", data)
            return
        try:
            self._on_frame(frame)
        except Exception:  # never let one odd frame break the socket's read callback
            logger.exception("Could not handle a frame from the server")

    async def _read_loop(self, ws: ClientConnection) -> None:
        """Wait for the connection to end (frames arrive through `_on_text`), then react."""
        try:
            async for text in ws:  # only fragmented or binary messages come this way
                self._on_text(text)
        except ConnectionClosed:
            pass
        code = ws.close_code
        self.close_code = code
        self._connected.clear()
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(HubClosed(code))
        self._pending.clear()
        if self._closing:
            return
        if not self.reconnect or code in FINAL_CLOSE_CODES:
            await self._events.put(HubClosed(code))
            return
        # One reconnect loop at a time: a failed attempt's socket ends here too.
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.1
        while not self._closing:
            await asyncio.sleep(delay * (0.5 + random.random()))
            try:
                await self.connect()
                return
            except HubError as exc:
                if exc.code not in RETRY_LATER_CODES:
                    await self._events.put(HubClosed(4001 if exc.code == "unauthorized" else None))
                    return
                logger.info("Reconnect refused for now (%s); retrying", exc)
                if self._ws is not None:
                    await self._ws.close()
                delay = max(min(delay * 2, 5.0), exc.retry_after or 0)
            except (TimeoutError, OSError, WebSocketException, HubClosed) as exc:
                logger.info("Reconnect failed (%s); retrying", exc)
                delay = min(delay * 2, 5.0)

    def _on_frame(self, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        if op == "event":
            topic, seq = frame["topic"], frame.get("seq")
            if seq is not None:
                position = self.positions.get(topic)
                if position is not None:
                    if seq <= position.seq:
                        self.duplicates += 1
                        return
                    position.seq = seq
            self._events.put_nowait(
                Event(topic, frame["type"], frame.get("data"), frame.get("ts", ""), seq)
            )
        elif op == "reply":
            ref = frame.get("ref")
            pending = self._pending.pop(ref, None) if ref is not None else None
            if pending is None:
                return
            future, on_reply = pending
            if on_reply is not None and frame.get("ok"):
                on_reply(frame["data"])  # before any frame that follows the reply
            if not future.done():
                future.set_result(frame)
        elif op == "error":
            logger.warning("Server refused a frame: %s", frame.get("error"))

    # --- requests ------------------------------------------------------------------

    async def request(
        self, op: str, _on_reply: OnReply | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Send one command and wait for its reply; raise HubError on `ok: false`."""
        assert self._ws is not None, "connect() first"
        ref = next(self._refs)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ref] = (future, _on_reply)
        await self._ws.send(orjson.dumps({"op": op, "ref": ref, **fields}).decode())
        reply = await future
        if not reply["ok"]:
            error = reply["error"]
            raise HubError(error["code"], error.get("message", ""), error.get("retry_after"))
        data: dict[str, Any] = reply["data"]
        return data

    async def ping(self) -> None:
        await self.request("ping")

    async def subscribe(self, topic: str) -> dict[str, Any]:
        """Follow a topic; subscribing again to one already followed changes nothing."""
        if topic in self.positions:
            return await self.request("subscribe", topic=topic)
        position = _Position()
        reply = await self._subscribe(topic, position, first=True)
        self.positions[topic] = position
        return reply

    async def _subscribe(
        self, topic: str, position: _Position, first: bool = False
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {"topic": topic}
        resuming = position.epoch is not None
        if resuming:
            fields.update(since=position.seq, epoch=position.epoch)
        # Track the topic before the reply so replayed events that follow it are seen.
        self.positions[topic] = position

        def on_reply(data: dict[str, Any]) -> None:
            if not data["recovered"]:
                if resuming:
                    self._events.put_nowait(Resync(topic, data["seq"], data["epoch"]))
                position.seq = data["seq"]
            position.epoch = data["epoch"]
            position.presence = data.get("presence", [])

        try:
            return await self.request("subscribe", _on_reply=on_reply, **fields)
        except HubError:
            if first:
                self.positions.pop(topic, None)
            raise

    async def unsubscribe(self, topic: str) -> None:
        self.positions.pop(topic, None)
        await self.request("unsubscribe", topic=topic)

    async def publish(self, topic: str, type: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self.request("publish", topic=topic, type=type, data=data)

    # --- events --------------------------------------------------------------------

    async def next_event(self, timeout: float | None = None) -> Event | Resync:
        item = await asyncio.wait_for(self._events.get(), timeout)
        if isinstance(item, HubClosed):
            raise item
        return item

    async def events(self) -> AsyncIterator[Event | Resync]:
        """Events in arrival order (per topic, in seq order), across reconnects."""
        while True:
            yield await self.next_event()
