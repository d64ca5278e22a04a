"""Shared pieces of the live-server benchmarks: Django setup, the bench user, RSS,
and a subscriber worker that runs in its own process.

The worker imports only `hub.client` (no Django), so client processes stay light;
the publisher side calls `django_setup()` and publishes through `hub.services`.
"""

import asyncio
import gc
import os
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub.client import HubClient  # noqa: E402

DEFAULT_URL = "ws://127.0.0.1:8100/ws/v1/"
BENCH_EMAIL = "bench@example.com"
CONNECT_CONCURRENCY = 50


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def bench_credentials() -> tuple[int, str]:
    """The bench user (created once) and a fresh token; older bench tokens are deleted."""
    django_setup()
    from accounts.models import ApiToken, User
    from accounts.services import token_create, user_create

    user = User.objects.filter(email=BENCH_EMAIL).first()
    if user is None:
        user = user_create(email=BENCH_EMAIL, password=None, name="Bench", role="student")
    ApiToken.objects.filter(user=user, name="bench").delete()
    _, token = token_create(user=user, name="bench")
    return user.pk, token


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_listening_on(port: int) -> int:
    """The pid owning the IPv4 socket listening on 127.0.0.1:port (or 0.0.0.0:port)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            inodes.add(f"socket:[{inode}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except OSError:
            continue
    raise RuntimeError(f"nothing of ours listens on port {port}")


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} did not open")


async def open_clients(
    url: str, token: str, count: int, topic: str | None, client_class=HubClient
) -> list[HubClient]:
    """Open `count` authenticated clients (optionally subscribed to `topic`), 50 at a time."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> HubClient:
        async with gate:
            client = client_class(url, token, reconnect=False)
            await asyncio.wait_for(client.connect(), 30)
            if topic is not None:
                await asyncio.wait_for(client.subscribe(topic), 30)
            return client

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def close_clients(clients: list[HubClient]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def subscriber_process(url, token, topic, count, events, timeout, ready, results) -> None:
    """Child process: `count` clients on `topic`; report receipts of `events` events each.

    Puts "ready" on `ready` once subscribed, then one dict on `results`: per event
    index its receipt times, plus missing / duplicate / out-of-order counts.
    """
    asyncio.run(_subscribe_and_receive(url, token, topic, count, events, timeout, ready, results))


class ArrivalStampingClient(HubClient):
    """The project's client, noting when each event frame arrived (read and decoded).

    The receipt time is taken where the client reads the frame off its socket, not
    when a consumer task later gets around to it: with hundreds of connections per
    process, the later point would add the client's own scheduling to the figure.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arrived: dict[int, float] = {}

    def _on_frame(self, frame: dict) -> None:
        if frame.get("op") == "event":
            self.arrived.setdefault(frame["data"]["i"], time.time())
        super()._on_frame(frame)


async def _subscribe_and_receive(url, token, topic, count, events, timeout, ready, results):
    clients = await open_clients(url, token, count, topic, client_class=ArrivalStampingClient)
    receipts: list[list[float]] = [[] for _ in range(events)]
    stats = {"missing": 0, "out_of_order": 0, "duplicates": 0, "timed_out": 0}
    gc.freeze()  # the connections' setup objects need no more cyclic-GC scans

    async def drain(client: ArrivalStampingClient) -> None:
        last_seq, got = None, 0
        try:
            async with asyncio.timeout(timeout):
                while got < events:
                    event = await client.next_event()
                    if last_seq is not None and event.seq != last_seq + 1:
                        stats["out_of_order"] += 1
                    last_seq = event.seq
                    receipts[event.data["i"]].append(client.arrived[event.data["i"]])
                    got += 1
        except TimeoutError:
            stats["timed_out"] += 1
        stats["missing"] += events - got
        stats["duplicates"] += client.duplicates

    tasks = [asyncio.create_task(drain(c)) for c in clients]
    ready.put(len(clients))
    cpu_before = os.times()
    await asyncio.gather(*tasks)
    cpu_after = os.times()
    stats["cpu_user"] = cpu_after.user - cpu_before.user
    stats["cpu_system"] = cpu_after.system - cpu_before.system
    results.put({"receipts": receipts, **stats})
    await close_clients(clients)


def time_gets(base_url: str, token: str, paths: list[str], warmup: int = 5):
    """GET each path in turn over one keep-alive connection, as a client app would.

    Returns the sorted timings in ms (the first `warmup` requests not counted) and
    the last answer's parsed body.
    """
    import http.client
    import json
    from urllib.parse import urlsplit

    target = urlsplit(base_url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"}
    timings, body = [], None
    for index, path in enumerate(paths):
        began = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        elapsed = (time.perf_counter() - began) * 1000
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {raw[:300]!r}")
        body = json.loads(raw)
        if index >= warmup:
            timings.append(elapsed)
    connection.close()
    return sorted(timings), body


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]
