"""Backpressure on what a client sends: an answer within a bounded time, or none read.

daphne reads every frame a client sends into an unbounded queue, and the consumer serves
them one at a time; a client sending faster than its frames are served (or a process
serving more than it can) would otherwise wait minutes for its answers while memory
grows. So, under daphne, the intake notes when each frame arrived and:

- stops reading the socket while `HUB_INTAKE_FRAMES` frames wait (TCP then pushes back
  on the client), and reads again once half of them are served;
- refuses with `rate_limited` (and `retry_after`), without running it, a frame that
  waited longer than `HUB_BACKPRESSURE_SECONDS` before its turn came.
"""

import collections
import time
from typing import Protocol

from hub.asgi import Send
from hub.wire import daphne_protocol


class ReadableTransport(Protocol):
    def pauseProducing(self) -> None: ...

    def resumeProducing(self) -> None: ...


class Intake:
    """One connection's incoming frames: when each arrived, and whether reading is paused."""

    __slots__ = ("_arrivals", "_limit", "_paused", "_transport")

    def __init__(self, send: Send, limit: int):
        self._arrivals: collections.deque[float] = collections.deque()
        self._limit = limit
        self._paused = False
        self._transport: ReadableTransport | None = None
        protocol = daphne_protocol(send)
        if protocol is None:  # another ASGI server: frames are served as they come
            return
        self._transport = protocol.transport  # type: ignore[assignment]
        queued = protocol.onMessage  # type: ignore[attr-defined]

        def on_message(payload: bytes, is_binary: bool) -> None:
            if not getattr(protocol, "muted", False):
                self._arrivals.append(time.monotonic())
            queued(payload, is_binary)
            if len(self._arrivals) >= self._limit and not self._paused:
                self._paused = True
                self._transport.pauseProducing()  # type: ignore[union-attr]

        protocol.onMessage = on_message  # type: ignore[attr-defined]

    def waited(self) -> float:
        """How long the frame now being served waited for its turn (0 if unknown); reading
        starts again once the backlog is down to half the limit."""
        if not self._arrivals:
            return 0.0
        waited = time.monotonic() - self._arrivals.popleft()
        if self._paused and len(self._arrivals) <= self._limit // 2:
            self._paused = False
            if self._transport is not None:
                self._transport.resumeProducing()
        return waited
