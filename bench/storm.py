"""Reconnect storm: N subscribed clients, a server restart, events missed meanwhile.

Why: the issue's target is 5,000 clients fully resumed (every missed event
replayed) within 20 s of a restart. Each client (users and conversations as in
bench/connect.py) subscribes to its conversation; the server is stopped with
`bench/server.sh stop` (clients are told 1001); --events events per conversation
are published through `hub.services.publish` while it is down (so they are only in
the log); the server is started again. The clients are the project's `HubClient`,
which reconnects by itself with jittered exponential backoff (0.1 s doubling to
5 s) and resubscribes with `since`/`epoch`. Reports, from the moment the port
opens again: when each client was authenticated again, and when it had every
missed event; any duplicate, gap or `Resync`; the server's CPU meanwhile.

    source bench/env.sh && ulimit -n 20000
    .venv/bin/python bench/storm.py --clients 5000 --procs 4 --events 2
"""

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_seconds, percentile, pid_listening_on, wait_for_port
from bench.connect import setup
from hub.client import Event, HubClient, Resync

SERVER = str(Path(__file__).resolve().parent / "server.sh")


class ResumeWatch(HubClient):
    """A client noting when it was authenticated again after the restart."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connects: list[float] = []
        self.attempts = 0

    async def connect(self) -> None:
        self.attempts += 1
        await super().connect()
        self.connects.append(time.time())


async def hold_and_resume(url, share, concurrency, ready, targets_queue, results) -> None:
    gate = asyncio.Semaphore(concurrency)
    clients: list[tuple[ResumeWatch, str]] = []

    async def one(token: str, topic: str) -> None:
        async with gate:
            client = ResumeWatch(url, token)
            await asyncio.wait_for(client.connect(), 60)
            await asyncio.wait_for(client.subscribe(topic), 60)
            clients.append((client, topic))

    await asyncio.gather(*(one(token, topic) for token, topic in share))
    ready.put(len(clients))
    targets: dict[str, int] = await asyncio.to_thread(targets_queue.get)
    attempts_before = sum(c.attempts for c, _ in clients)
    stats = {"resyncs": 0, "gaps": 0, "timed_out": 0, "events": 0}
    finished: list[float] = []
    reconnected: list[float] = []

    async def drain(client: ResumeWatch, topic: str) -> None:
        last = client.positions[topic].seq
        target = targets[topic]
        try:
            async with asyncio.timeout(120):
                while client.positions[topic].seq < target or last < target:
                    item = await client.next_event()
                    if isinstance(item, Resync):
                        stats["resyncs"] += 1
                        last = item.seq
                    elif isinstance(item, Event) and item.seq is not None:
                        if item.seq != last + 1:
                            stats["gaps"] += 1
                        last = item.seq
                        stats["events"] += 1
        except TimeoutError:
            stats["timed_out"] += 1
            return
        finished.append(time.time())
        reconnected.append(client.connects[-1])

    cpu_before = os.times()
    await asyncio.gather(*(drain(c, t) for c, t in clients))
    cpu_after = os.times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    duplicates = sum(c.duplicates for c, _ in clients)
    results.put(
        {**stats, "finished": finished, "reconnected": reconnected}
        | {"duplicates": duplicates, "cpu": cpu}
        | {"attempts": sum(c.attempts for c, _ in clients) - attempts_before}
    )
    await asyncio.gather(*(c.close() for c, _ in clients), return_exceptions=True)


def client_process(*args) -> None:
    asyncio.run(hold_and_resume(*args))


def publish_missed(topics: list[str], events: int) -> dict[str, int]:
    """Publish `events` events to each topic (the server is down: only the log has them)."""
    from django.db import transaction

    from hub.services import publish

    last: dict[str, int] = {}
    for topic in topics:
        with transaction.atomic():
            for n in range(events):
                last[topic] = publish(topic=topic, event_type="storm.missed", data={"n": n})
    return last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8100/ws/v1/")
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--events", type=int, default=2, help="missed events per conversation")
    parser.add_argument("--concurrency", type=int, default=50, help="initial connects per proc")
    args = parser.parse_args()
    port = urlsplit(args.url).port

    work = setup(args.clients)
    topics = sorted({topic for _, topic in work})
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    target_queues = [ctx.Queue() for _ in range(args.procs)]
    procs = [
        ctx.Process(
            target=client_process,
            args=(
                args.url,
                work[i :: args.procs],
                args.concurrency,
                ready,
                target_queues[i],
                results,
            ),
        )
        for i in range(args.procs)
    ]
    began = time.time()
    for proc in procs:
        proc.start()
    held = sum(ready.get(timeout=600) for _ in procs)
    print(f"{held} clients subscribed in {time.time() - began:.1f} s; stopping the server")

    stopped_at = time.time()
    subprocess.run([SERVER, "stop"], check=True)
    while True:
        try:
            pid_listening_on(port)
        except RuntimeError:
            break
        time.sleep(0.05)
    down_at = time.time()
    last = publish_missed(topics, args.events)
    published_at = time.time()
    subprocess.run([SERVER, "start"], check=True, stdout=subprocess.DEVNULL)
    wait_for_port(port)
    up_at = time.time()
    pid = pid_listening_on(port)
    server_cpu = cpu_seconds(pid)
    for queue in target_queues:
        queue.put(last)
    outcomes = [results.get(timeout=600) for _ in procs]
    server_cpu = cpu_seconds(pid) - server_cpu
    for proc in procs:
        proc.join()

    finished = sorted(t - up_at for o in outcomes for t in o["finished"])
    reconnected = sorted(t - up_at for o in outcomes for t in o["reconnected"])
    total = {key: sum(o[key] for o in outcomes) for key in ("events", "gaps", "resyncs")}
    total |= {key: sum(o[key] for o in outcomes) for key in ("duplicates", "timed_out")}
    print(
        f"stop took {down_at - stopped_at:.1f} s; published {args.events} x {len(topics)} events"
        f" in {published_at - down_at:.1f} s; start (migrate + boot) {up_at - published_at:.1f} s"
    )
    print(
        f"{len(finished)} of {held} clients resumed with every missed event;"
        f" {total['events']} events replayed (expected {held * args.events}),"
        f" gaps {total['gaps']}, duplicates {total['duplicates']},"
        f" resyncs {total['resyncs']}, timed out {total['timed_out']}"
    )
    if finished:
        print(
            f"from port open: first re-authenticated {reconnected[0]:.1f} s,"
            f" re-authenticated p50 {percentile(reconnected, 50):.1f} s,"
            f" p99 {percentile(reconnected, 99):.1f} s;"
            f" resumed p50 {percentile(finished, 50):.1f} s, p99 {percentile(finished, 99):.1f} s,"
            f" all {finished[-1]:.1f} s"
        )
    client_cpu = sum(o["cpu"] for o in outcomes)
    attempts = sum(o["attempts"] for o in outcomes)
    print(f"connect attempts after the targets were known: {attempts} for {held} clients")
    print(
        f"server CPU after the restart {server_cpu:.1f} s"
        f" ({server_cpu / max(held, 1) * 1000:.1f} ms per client); clients' CPU {client_cpu:.1f} s;"
        f" load {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
