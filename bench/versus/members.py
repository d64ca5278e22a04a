"""One chat member per target, with one interface: open, join a room, send, hear.

Each member hands every message text it receives to `on_text` the moment its frame
is parsed off the socket. All three speak over the same `websockets` package, so the
load generator's cost per frame is alike: the hub through the project's `HubClient`,
the Channels tutorial as its page does (a socket per room, JSON `{"message": ...}`),
python-socketio as Engine.IO v4 / Socket.IO v5 text frames over a websocket.
"""

import asyncio
import itertools
import json
import random
import time
from collections.abc import Callable

import websockets

from hub.client import HubClient, HubClosed, HubError

TextHandler = Callable[[str, str], None]  # (room, text)


def _ignore(room: str, text: str) -> None:
    pass


class HubMember(HubClient):
    """A hub user: rooms are conversation ids (or a whole topic name); sends are `message.send`."""

    def __init__(self, url: str, token: str, **kwargs):
        super().__init__(url, token, reconnect=kwargs.pop("reconnect", False))
        self.on_text: TextHandler = _ignore
        self._sent = itertools.count()

    async def open(self) -> None:
        await self.connect()

    async def join(self, room: str) -> None:
        await self.subscribe(room if ":" in room else f"conversation:{room}")

    async def send_text(self, room: str, text: str) -> None:
        data = {"body": text, "client_id": f"{id(self)}-{time.time()}-{next(self._sent)}"}
        await self.publish(f"conversation:{room}", "message.send", data)

    async def _reconnect(self) -> None:
        """HubClient's retry loop, also retrying a handshake the restarting server cut short.

        hub.client gives up for good on websockets' InvalidMessage (a socket accepted but
        closed before the HTTP answer, as while the server restarts); this bench retries it.
        """
        delay = 0.1
        while not self._closing:
            await asyncio.sleep(delay * (0.5 + random.random()))
            try:
                await self.connect()
                return
            except HubError as exc:
                await self._events.put(HubClosed(4001 if exc.code == "unauthorized" else None))
                return
            except (TimeoutError, OSError, HubClosed, websockets.WebSocketException):
                delay = min(delay * 2, 5.0)

    def _on_frame(self, frame: dict) -> None:
        if frame.get("op") == "event":
            data = frame.get("data") or {}
            body = data.get("body") or (data.get("message") or {}).get("body")
            if body is not None:
                self.on_text(frame["topic"], body)
        super()._on_frame(frame)


class ChannelsMember:
    """The tutorial's page: one socket per room, at /ws/chat/<room>/."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.origin = self.base.replace("ws://", "http://")
        self.sockets: dict[str, websockets.ClientConnection] = {}
        self.on_text: TextHandler = _ignore
        self._readers: list[asyncio.Task] = []

    async def open(self) -> None:
        pass

    async def join(self, room: str) -> None:
        ws = await websockets.connect(
            f"{self.base}/ws/chat/{room}/", origin=self.origin, ping_interval=None
        )
        self.sockets[room] = ws
        self._readers.append(asyncio.create_task(self._read(room, ws)))

    async def _read(self, room: str, ws) -> None:
        try:
            async for text in ws:
                self.on_text(room, json.loads(text)["message"])
        except websockets.ConnectionClosed:
            pass

    async def send_text(self, room: str, text: str) -> None:
        await self.sockets[room].send(json.dumps({"message": text}))

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets.values()), return_exceptions=True)
        for reader in self._readers:
            reader.cancel()


class SocketioMember:
    """A Socket.IO client on one websocket: `join` is acknowledged, `send` goes to the room."""

    def __init__(self, base: str):
        self.url = f"{base.rstrip('/')}/socket.io/?EIO=4&transport=websocket"
        self.on_text: TextHandler = _ignore
        self.ws: websockets.ClientConnection | None = None
        self._acks: dict[int, asyncio.Future] = {}
        self._ack_ids = itertools.count()
        self._connected: asyncio.Future | None = None
        self._reader: asyncio.Task | None = None
        self._pongs: set[asyncio.Future] = set()

    async def open(self) -> None:
        self.ws = await websockets.connect(self.url, ping_interval=None)
        opening = await self.ws.recv()
        assert opening.startswith("0"), opening  # Engine.IO open packet
        self._connected = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        await self.ws.send("40")  # Socket.IO connect to the default namespace
        await self._connected

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for packet in self.ws:
                self._on_packet(packet)
        except websockets.ConnectionClosed:
            pass

    def _on_packet(self, packet: str) -> None:
        if packet == "2":  # Engine.IO ping: answer pong
            pong = asyncio.ensure_future(self.ws.send("3"))
            self._pongs.add(pong)
            pong.add_done_callback(self._pongs.discard)
        elif packet.startswith("42"):
            name, data = json.loads(packet[2:])
            if name == "message":
                self.on_text(data["room"], data["message"])
        elif packet.startswith("43"):
            bracket = packet.index("[")
            future = self._acks.pop(int(packet[2:bracket]), None)
            if future is not None and not future.done():
                future.set_result(json.loads(packet[bracket:]))
        elif packet.startswith("40") and self._connected and not self._connected.done():
            self._connected.set_result(True)

    async def join(self, room: str) -> None:
        assert self.ws is not None
        ack = next(self._ack_ids)
        future = asyncio.get_running_loop().create_future()
        self._acks[ack] = future
        await self.ws.send(f"42{ack}" + json.dumps(["join", room]))
        await future

    async def send_text(self, room: str, text: str) -> None:
        assert self.ws is not None
        await self.ws.send("42" + json.dumps(["send", {"room": room, "message": text}]))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()


def make_member(target: str, url: str, token: str | None = None, reconnect: bool = False):
    if target == "hub":
        return HubMember(url, token or "", reconnect=reconnect)
    if target == "channels":
        return ChannelsMember(url)
    return SocketioMember(url)


def target_url(target: str, port: int) -> str:
    return f"ws://127.0.0.1:{port}/ws/v1/" if target == "hub" else f"ws://127.0.0.1:{port}"
