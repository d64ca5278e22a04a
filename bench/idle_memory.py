"""Server memory per idle connection: open N authenticated sockets to ONE server process.

Why: the issue's target is 5,000 idle connections at < 30 KB each. The server's
RSS (VmRSS in /proc/PID/status) is read before the connections open and after they
have all authenticated (and, with --subscribe, subscribed their own `user:{id}`)
and sat idle for --settle seconds; the difference over N is the cost per connection.
Run it on a freshly started server: freed memory is reused, not returned to the OS.
--warmup connections are opened (and kept) before the first reading, so one-time
costs (lazy imports, the thread pool, the database connection) are not counted.

    .venv/bin/python bench/idle_memory.py --connections 5000
    .venv/bin/python bench/idle_memory.py --connections 5000 --subscribe
"""

import argparse
import asyncio
import time
from urllib.parse import urlsplit

from common import (
    DEFAULT_URL,
    bench_credentials,
    close_clients,
    open_clients,
    pid_listening_on,
    rss_kb,
)


async def measure(url, token, pid, count, topic, settle, warmup):
    cold = rss_kb(pid)
    warm = await open_clients(url, token, warmup, topic)
    await asyncio.sleep(1.0)
    before = rss_kb(pid)
    t0 = time.monotonic()
    clients = await open_clients(url, token, count, topic)
    opened = time.monotonic() - t0
    await asyncio.sleep(settle)
    after = rss_kb(pid)
    await close_clients(clients + warm)
    return cold, before, after, opened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--subscribe", action="store_true", help="each subscribes user:{id}")
    parser.add_argument("--server-pid", type=int, help="default: the process on the url's port")
    parser.add_argument("--settle", type=float, default=5.0, help="idle seconds before reading")
    parser.add_argument("--warmup", type=int, default=100, help="connections before baseline")
    args = parser.parse_args()

    user_id, token = bench_credentials()
    pid = args.server_pid or pid_listening_on(urlsplit(args.url).port)
    topic = f"user:{user_id}" if args.subscribe else None
    cold, before, after, opened = asyncio.run(
        measure(args.url, token, pid, args.connections, topic, args.settle, args.warmup)
    )
    per_conn = (after - before) / args.connections
    total = args.connections + args.warmup
    print(f"server pid {pid}: {args.connections} connections, subscribed to {topic}")
    print(f"opened+authenticated in {opened:.1f} s")
    print(
        f"RSS cold {cold / 1024:.1f} MiB, after {args.warmup} warm-up connections"
        f" {before / 1024:.1f} MiB, after {args.connections} more {after / 1024:.1f} MiB"
    )
    print(f"=> {per_conn:.1f} KB per idle connection (cold: {(after - cold) / total:.1f} KB)")


if __name__ == "__main__":
    main()
