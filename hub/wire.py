"""How frames reach one client's socket, with a bounded backlog.

A client that stops reading must not grow the server's memory: once its backlog
passes the limit, the connection is closed with 4008 and the client resumes from
its last seq. Under daphne the backlog is measured against the socket itself
(Twisted pauses us when its write buffer is full) and each event's WebSocket frame
is built once for all connections; any other ASGI server gets a plain writer task.
"""

import asyncio
import collections
import functools
import inspect
import logging
import pprint
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, cast

from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import IPushProducer, ISSLTransport
from zope.interface import implementer

from hub.asgi import Send

if TYPE_CHECKING:  # autobahn is daphne's; only daphne's wire ever meets it
    from autobahn.websocket.protocol import PreparedMessage

logger = logging.getLogger(__name__)


class MessageFactory(Protocol):
    """autobahn's WebSocket factory, as far as framing a message once is concerned."""

    def prepareMessage(self, payload: bytes) -> "PreparedMessage": ...


class DaphneTransport(Protocol):
    """The Twisted transport under daphne's socket (plain TCP or TLS), as the wire uses it."""

    producer: object | None

    def registerProducer(self, producer: object, streaming: bool) -> None: ...

    def unregisterProducer(self) -> None: ...

    def write(self, data: bytes) -> None: ...


class DaphneProtocol(Protocol):
    """daphne's WebSocketProtocol (an autobahn server protocol), as the wire uses it."""

    STATE_OPEN: int
    state: int
    factory: MessageFactory
    transport: DaphneTransport
    send_queue: collections.deque[tuple[bytes, bool]]
    closeHandshakeTimeout: float

    def sendPreparedMessage(self, preparedMsg: "PreparedMessage") -> None: ...

    def sendCloseFrame(self, code: int | None = None) -> None: ...


class Outgoing:
    """One frame on its way to many connections: encoded once, framed once."""

    __slots__ = ("_prepared", "payload", "text")

    def __init__(self, text: str):
        self.text = text
        self.payload = text.encode()
        self._prepared: PreparedMessage | None = None

    def prepared(self, factory: MessageFactory) -> "PreparedMessage":
        if self._prepared is None:
            self._prepared = factory.prepareMessage(self.payload)
        return self._prepared


OnOverflow = Callable[[], Coroutine[Any, Any, None]]


class Wire(Protocol):
    """How a connection's frames reach its socket: AsgiWire, or DaphneWire under daphne."""

    overflowed: bool

    @property
    def queued(self) -> int:
        """Frames waiting for the socket (sampled for the metrics)."""
        ...

    def push(self, outgoing: Outgoing) -> None: ...

    async def flush(self) -> None: ...

    def stop(self) -> None: ...


class AsgiWire:
    """A writer task feeding the ASGI `send` callable, for servers other than daphne."""

    def __init__(self, send: Send, limit: int, on_overflow: OnOverflow):
        self._send = send
        self._limit = limit
        self._on_overflow = on_overflow
        self._backlog: collections.deque[Outgoing] = collections.deque()
        self._ready = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self._writer = asyncio.create_task(self._write_loop())
        self.overflowed = False

    @property
    def queued(self) -> int:
        return len(self._backlog)

    def push(self, outgoing: Outgoing) -> None:
        if self.overflowed:
            return
        if len(self._backlog) >= self._limit:
            self._overflow()
            return
        self._backlog.append(outgoing)
        self._empty.clear()
        self._ready.set()

    def _overflow(self) -> None:
        self.overflowed = True
        self._backlog.clear()
        self._empty.set()
        self._overflow_task = asyncio.create_task(self._on_overflow())

    async def _write_loop(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._backlog:
                outgoing = self._backlog.popleft()
                await self._send({"type": "websocket.send", "text": outgoing.text})
            self._empty.set()

    async def flush(self) -> None:
        """Wait until everything pushed so far has been handed to the server."""
        await self._empty.wait()

    def stop(self) -> None:
        self._writer.cancel()


@implementer(IPushProducer)
class DaphneWire:
    """Writes straight to daphne's socket; queues only while Twisted says the socket is full.

    When Twisted holds nothing unsent for the socket, a frame goes out with one
    `send` right away (Twisted's own write would only buffer it and write on a
    later loop turn); whatever the socket does not take, and every frame after it
    until Twisted has drained it, goes through Twisted's buffer, so order holds.
    """

    __slots__ = (
        "__weakref__",
        "_backlog",
        "_factory",
        "_limit",
        "_on_overflow",
        "_overflow_task",
        "_paused",
        "_protocol",
        "_socket",
        "_transport",
        "overflowed",
    )

    def __init__(self, protocol: DaphneProtocol, limit: int, on_overflow: OnOverflow):
        self._protocol = protocol
        self._factory = protocol.factory
        self._limit = limit
        self._on_overflow = on_overflow
        self._backlog: collections.deque[Outgoing] | None = None  # made when first needed
        self._paused = False
        self.overflowed = False
        transport = protocol.transport
        self._transport = transport
        self._socket = _plain_socket(protocol, transport)
        # After the HTTP upgrade the old HTTP channel is still registered as the
        # socket's producer; we take its place to hear when the buffer fills and drains.
        if transport.producer is not None:
            transport.unregisterProducer()
        transport.registerProducer(self, True)
        _forget_handshake(protocol)

    @property
    def queued(self) -> int:
        return len(self._backlog) if self._backlog else 0

    def push(self, outgoing: Outgoing) -> None:
        if self.overflowed:
            return
        if self._paused or self._backlog:
            if self._backlog is None:
                self._backlog = collections.deque()
            elif len(self._backlog) >= self._limit:
                self._overflow()
                return
            self._backlog.append(outgoing)
            return
        self._write(outgoing)

    def _write(self, outgoing: Outgoing) -> None:
        protocol = self._protocol
        if protocol.state != protocol.STATE_OPEN:
            return
        prepared = outgoing.prepared(self._factory)
        sock = self._socket
        if sock is None or protocol.send_queue:
            protocol.sendPreparedMessage(prepared)
            return
        # `_plain_socket` finds a socket only under a plain FileDescriptor.
        transport = cast(FileDescriptor, self._transport)
        data = prepared.payloadHybi
        if transport.dataBuffer or transport._tempDataBuffer or not transport.connected:
            transport.write(data)  # behind what Twisted holds (or dropped once closed)
            return
        try:
            sent = sock.send(data)
        except OSError:  # full (EAGAIN) or broken: Twisted writes it, or sees the error
            sent = 0
        if sent < len(data):
            transport.write(data[sent:])

    def _overflow(self) -> None:
        self.overflowed = True
        self._backlog = None
        # The close frame waits behind what the socket already holds; give the
        # client time to read up to it and learn why (4008), not just a reset.
        self._protocol.closeHandshakeTimeout = 30
        self._overflow_task = asyncio.get_running_loop().create_task(self._on_overflow())

    # IPushProducer: Twisted calls these as the socket's write buffer fills and drains.
    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        backlog = self._backlog
        while backlog and not self._paused:
            self._write(backlog.popleft())
        if not backlog:
            self._backlog = None

    def stopProducing(self) -> None:
        self._backlog = None

    async def flush(self) -> None:
        """Writes are synchronous here; a paused backlog is dropped by the close."""

    def stop(self) -> None:
        self._backlog = None


def _plain_socket(protocol: DaphneProtocol, transport: DaphneTransport) -> socket.socket | None:
    """The socket under a plain TCP transport, when frames may be sent on it directly.

    Not under TLS (the bytes must be encrypted by Twisted), nor with per-message
    compression (each message is compressed by autobahn): those go through autobahn.
    """
    if getattr(protocol, "_perMessageCompress", None) is not None:
        return None
    if ISSLTransport.providedBy(transport) or not isinstance(transport, FileDescriptor):
        return None
    sock: socket.socket | None = getattr(transport, "socket", None)
    if sock is None or not hasattr(transport, "dataBuffer"):
        return None
    if not hasattr(transport, "_tempDataBuffer") or not hasattr(sock, "send"):
        return None
    return sock


# What autobahn keeps from the opening handshake and never reads again once open.
_HANDSHAKE_LEFTOVERS = ("http_request_data", "http_headers", "http_status_line", "http_raw")


def _forget_handshake(protocol: DaphneProtocol) -> None:
    """Drop the opening handshake's copies of the request: an idle socket should cost little."""
    for name in _HANDSHAKE_LEFTOVERS:
        if name in getattr(protocol, "__dict__", ()):
            setattr(protocol, name, None)


def daphne_protocol(send: Send) -> DaphneProtocol | None:
    """daphne's WebSocket protocol behind an ASGI `send`, or None under other servers."""
    protocol: DaphneProtocol | None = (
        send.args[0] if isinstance(send, functools.partial) and send.args else None
    )
    transport = getattr(protocol, "transport", None)
    if (
        protocol is not None
        and hasattr(protocol, "sendPreparedMessage")
        and hasattr(transport, "registerProducer")
    ):
        return protocol
    return None


class _PrettyOnDemand:
    """pprint.pformat() when formatted: autobahn pretty-prints every new connection's
    options for a debug line that is dropped unless debug logging is on."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return pprint.pformat(self.value)


def _share_protocol_options(protocol: DaphneProtocol) -> None:
    """Make the factory's later connections read its options from their class.

    autobahn copies some 40 options from the factory into each new protocol's
    __dict__ (memory per idle socket) unless the class already has them; a subclass
    holding this factory's values makes that copy a no-op. Done once per factory.
    """
    factory: Any = protocol.factory
    base = factory.protocol
    if getattr(base, "hub_shares_options", False) or not hasattr(base, "CONFIG_ATTRS"):
        return
    options = {
        # A plain function (perMessageCompressionAccept) must not become a method.
        name: staticmethod(value) if inspect.isfunction(value) else value
        for name in base.CONFIG_ATTRS
        if hasattr(factory, name)
        for value in (getattr(factory, name),)
    }
    factory.protocol = type(base.__name__, (base,), {**options, "hub_shares_options": True})
    autobahn_protocol = sys.modules.get("autobahn.websocket.protocol")
    if autobahn_protocol is not None and hasattr(autobahn_protocol, "pformat"):
        autobahn_protocol.pformat = _PrettyOnDemand  # type: ignore[attr-defined]


def wire_for(send: Send, limit: int, on_overflow: OnOverflow) -> Wire:
    """The fastest wire the server allows: daphne's socket when we can reach it."""
    protocol = daphne_protocol(send)
    if protocol is not None:
        _share_protocol_options(protocol)
        return DaphneWire(protocol, limit, on_overflow)
    return AsgiWire(send, limit, on_overflow)


async def close_socket(send: Send, code: int) -> None:
    """Close with any protocol code (1001, 1003, 1008, 1009, 4xxx).

    daphne's ASGI close goes through autobahn's public `sendClose`, which only
    takes 1000 and 3000-4999, so under daphne the close frame is sent directly.
    """
    protocol = daphne_protocol(send)
    if protocol is None:
        await send({"type": "websocket.close", "code": code})
    elif protocol.state == protocol.STATE_OPEN:
        protocol.sendCloseFrame(code=code)
