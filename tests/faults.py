"""Fault injection for the drills: a TCP proxy that can be cut, and a private Redis server.

The machine's PostgreSQL and Redis serve every test worker, so a drill never stops
them: it puts a `TcpProxy` in front of PostgreSQL and cuts that, or starts its own
`RedisServer` on a free port and kills and restarts that.
"""

import asyncio
import contextlib
import subprocess
import threading
import time
from collections.abc import Iterator

import redis

from tests.live import free_port


class TcpProxy:
    """Forwards a local port to the first upstream that accepts, until cut.

    With several upstreams it stands in for a load balancer: a connection goes to
    the first one that answers, so when one server dies its clients land on the next.
    `cut()` drops every open connection and refuses new ones, as a network outage
    would; `restore()` ends the outage.
    """

    def __init__(self, *upstreams: tuple[str, int]):
        self.upstreams = list(upstreams)
        self.port = free_port()
        self.accepting = True
        self.connected = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> "TcpProxy":
        self._thread.start()
        self._server = self._call(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def cut(self) -> None:
        """Drop every open connection (both sides see a reset) and refuse new ones."""
        self.accepting = False

        async def drop() -> None:
            for writer in list(self._writers):
                transport = writer.transport
                if transport is not None:
                    transport.abort()
            self._writers.clear()

        self._call(drop())

    def restore(self) -> None:
        self.accepting = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.accepting:
            writer.transport.abort()
            return
        upstream = None
        for host, port in self.upstreams:
            with contextlib.suppress(OSError):
                upstream = await asyncio.open_connection(host, port)
                break
        if upstream is None:
            writer.transport.abort()
            return
        up_reader, up_writer = upstream
        self._writers.update((writer, up_writer))
        self.connected += 1
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        self._writers.difference_update((writer, up_writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            # Whichever side ends first ends the pair, with a reset as a dead peer would.
            writer.transport.abort()


class RedisServer:
    """A Redis server of the drill's own, on a free port, that keeps nothing on disk."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def kill(self) -> None:
        """SIGKILL: every connection drops and everything it held is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    @contextlib.contextmanager
    def running(self) -> Iterator["RedisServer"]:
        self.start()
        try:
            yield self
        finally:
            self.kill()
