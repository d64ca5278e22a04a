"""EXPERIMENT (not the project's code): daphne with DaphneWire._write patched to send
each prepared frame straight to the socket when nothing is queued.

Why: profiles show a delivery's cost is mostly Twisted's deferred write (addWriter /
removeWriter on the asyncio loop, then a doWrite) and autobahn formatting a debug
log line it never emits. This measures what skipping both would gain; the same
change in hub/wire.py is suggested, not made.

    .venv/bin/python bench/experiment_direct_write.py --bind 127.0.0.1 --port 8100 \
        --websocket-max-message-size 1048576 config.asgi:application
"""

import contextlib
import sys
from pathlib import Path


def direct_write(self, outgoing) -> None:
    protocol = self._protocol
    if protocol.state != protocol.STATE_OPEN:
        return
    prepared = outgoing.prepared(self._factory)
    transport = protocol.transport
    if protocol._perMessageCompress is not None or protocol.send_queue:
        protocol.sendPreparedMessage(prepared)
        return
    data = prepared.payloadHybi
    if not transport.dataBuffer and not transport._tempDataBuffer:
        with contextlib.suppress(BlockingIOError):
            data = data[transport.socket.send(data) :]
        if not data:
            return
    transport.write(data)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from hub.wire import DaphneWire

    DaphneWire._write = direct_write
    from daphne.cli import CommandLineInterface

    sys.argv[0] = "daphne"
    CommandLineInterface.entrypoint()
