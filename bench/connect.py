"""Connection rate: N clients open a socket, authenticate and subscribe to their conversation.

Why: the issue's target is 500 authenticated and subscribed connections per second
per server process. Each client is a different user (a student or an instructor of
one of N/2 bench conversations) with a fresh token; it sends `auth`, then
`subscribe` to `conversation:{id}` (presence included, as a chat page does). The
clients run in --procs processes, at most --concurrency handshakes in flight each.
Reports connections per second, handshake p50/p99 (socket open -> subscribe reply),
the server's CPU per connection and the client processes' CPU.

    source bench/env.sh && ulimit -n 20000
    .venv/bin/python bench/connect.py --clients 1000 --procs 2
"""

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_seconds, django_setup, percentile, pid_listening_on
from hub.client import HubClient

TOKEN_NAME = "bench-connect"


def setup(clients: int) -> list[tuple[str, str]]:
    """(token, topic) for `clients` users, two per conversation (made once, fresh tokens)."""
    django_setup()
    from accounts.models import ApiToken, User
    from accounts.services import token_create, user_create
    from chat.services import conversation_open

    def user(email: str, role: str) -> User:
        found = User.objects.filter(email=email).first()
        return found or user_create(email=email, password=None, name=email[:12], role=role)

    pairs = []
    for n in range((clients + 1) // 2):
        student = user(f"connect-s{n}@bench.example", "student")
        teacher = user(f"connect-i{n}@bench.example", "instructor")
        conversation, _ = conversation_open(user=student, participant_id=teacher.pk)
        pairs.append((student, teacher, f"conversation:{conversation.pk}"))
    users = [u for s, t, _ in pairs for u in (s, t)]
    ApiToken.objects.filter(user__in=users, name=TOKEN_NAME).delete()
    out = []
    for student, teacher, topic in pairs:
        for person in (student, teacher):
            out.append((token_create(user=person, name=TOKEN_NAME)[1], topic))
    return out[:clients]


async def open_all(url, share, concurrency, ready, go, results, hold):
    gate = asyncio.Semaphore(concurrency)
    timings: list[float] = []
    failures: list[str] = []
    clients: list[HubClient] = []

    async def one(token: str, topic: str) -> None:
        async with gate:
            client = HubClient(url, token, reconnect=False)
            began = time.perf_counter()
            try:
                await asyncio.wait_for(client.connect(), 60)
                await asyncio.wait_for(client.subscribe(topic), 60)
            except Exception as exc:
                failures.append(repr(exc)[:200])
                return
            timings.append(time.perf_counter() - began)
            clients.append(client)

    ready.put(len(share))
    await asyncio.to_thread(go.wait)
    cpu_before, began = os.times(), time.time()
    await asyncio.gather(*(one(token, topic) for token, topic in share))
    finished, cpu_after = time.time(), os.times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    results.put(
        {"timings": timings, "failures": failures, "began": began, "finished": finished, "cpu": cpu}
    )
    await asyncio.to_thread(hold.wait)
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def client_process(*args) -> None:
    asyncio.run(open_all(*args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8100/ws/v1/")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes in flight per proc")
    parser.add_argument("--server-pid", type=int, help="default: the process on the url's port")
    args = parser.parse_args()

    pid = args.server_pid or pid_listening_on(urlsplit(args.url).port)
    work = setup(args.clients)
    ctx = multiprocessing.get_context("spawn")
    ready, results, go, hold = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Event()
    procs = [
        ctx.Process(
            target=client_process,
            args=(args.url, work[i :: args.procs], args.concurrency, ready, go, results, hold),
        )
        for i in range(args.procs)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=120)
    time.sleep(0.5)
    server_cpu = cpu_seconds(pid)
    go.set()
    outcomes = [results.get(timeout=600) for _ in procs]
    server_cpu = cpu_seconds(pid) - server_cpu
    hold.set()
    for proc in procs:
        proc.join()

    timings = sorted(t * 1000 for o in outcomes for t in o["timings"])
    failures = [f for o in outcomes for f in o["failures"]]
    elapsed = max(o["finished"] for o in outcomes) - min(o["began"] for o in outcomes)
    done = len(timings)
    client_cpu = sum(o["cpu"] for o in outcomes)
    print(
        f"{done} of {args.clients} connected+authenticated+subscribed in {elapsed:.2f} s"
        f" ({args.procs} client procs x {args.concurrency} in flight);"
        f" load {os.getloadavg()[0]:.2f}"
    )
    if failures:
        print(f"{len(failures)} failed, e.g. {failures[0]}")
    if done:
        print(f"=> {done / elapsed:.0f} connections/s")
        print(
            f"handshake (open -> subscribed) p50 {percentile(timings, 50):.0f} ms,"
            f" p99 {percentile(timings, 99):.0f} ms, max {timings[-1]:.0f} ms"
        )
        print(
            f"server CPU {server_cpu:.2f} s = {server_cpu / done * 1000:.2f} ms per connection"
            f" ({server_cpu / elapsed * 100:.0f} % of a core);"
            f" clients' CPU {client_cpu:.2f} s = {client_cpu / done * 1000:.2f} ms per connection"
        )


if __name__ == "__main__":
    main()
