"""The fast path from synchronous code: one long-lived event loop per process.

A sync publisher (a Celery task, a management command, a WSGI view) used to get
a fresh event loop per event, hence a fresh Redis connection (HELLO, SELECT, PING
before the PUBLISH). Here one daemon thread per process runs a loop that keeps its
channel-layer connection, so an event costs one PUBLISH. A forked child (Celery's
prefork pool) starts its own thread on first use instead of the parent's.
"""

import asyncio
import logging
import os
import threading
from collections.abc import Coroutine
from typing import Any

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
