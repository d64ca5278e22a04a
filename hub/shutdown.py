"""A clean stop under daphne: every client is told 1001 (reconnect elsewhere) first."""

import asyncio
import signal
import sys
from types import FrameType
from typing import Protocol

SHUTDOWN_GRACE_SECONDS = 5


class Stoppable(Protocol):
    """What the signal handler needs of the process's fan-out (hub.fanout.Fanout)."""

    stopping: bool

    async def shutdown(self, code: int) -> None: ...


def stop_with_daphne(fanout: Stoppable) -> bool:
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
            # twisted declares the reactor as zope Interfaces, whose methods take no
            # `self`; mypy reads them right only with the mypy-zope plugin.
            reactor.stop()  # type: ignore[misc]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not fanout.stopping:
            loop.call_soon_threadsafe(lambda: loop.create_task(close_then_stop()))

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    return True
