"""Chat round trip over a live server: N conversations, each with a sender and a reader.

Each conversation's student sends `message.send` over its own socket; the instructor,
on another socket subscribed to the conversation, stamps each `message.created` as it
arrives. Reports messages per second sustained and send -> receipt latency.

    bench/server.sh start   # the server must allow the rate: see --help and bench/README.md
    source bench/env.sh && .venv/bin/python bench/chat.py --conversations 100 --seconds 20

Closed loop by default (each sender sends its next message when the previous one's
reply arrives); `--rate R` paces each conversation at R messages per second instead.
"""

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import django_setup
from hub.client import HubClient


def setup(conversations: int, one_instructor: bool = False) -> list[tuple[int, str, str]]:
    """`conversations` bench pairs (made once), each with fresh tokens for both sides;
    with `one_instructor`, every conversation is with the same instructor."""
    django_setup()
    from accounts.models import ApiToken, User
    from accounts.services import token_create, user_create
    from chat.services import conversation_open

    def user(email: str, role: str) -> User:
        found = User.objects.filter(email=email).first()
        return found or user_create(email=email, password=None, name=email[:12], role=role)

    pairs = []
    for n in range(conversations):
        student = user(f"chat-s{n}@bench.example", "student")
        teacher = user(f"chat-i{0 if one_instructor else n}@bench.example", "instructor")
        conversation, _ = conversation_open(user=student, participant_id=teacher.pk)
        ApiToken.objects.filter(user=student, name="bench").delete()
        if n == 0 or not one_instructor:
            ApiToken.objects.filter(user=teacher, name="bench").delete()
        pairs.append(
            (
                conversation.pk,
                token_create(user=student, name="bench")[1],
                token_create(user=teacher, name="bench")[1],
            )
        )
    return pairs


class StampingReader(HubClient):
    """Notes when each message frame is read off the socket, before any queueing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.latencies: list[float] = []

    def _on_frame(self, frame: dict) -> None:
        if frame.get("op") == "event" and frame.get("type") == "message.created":
            sent_at = float(frame["data"]["body"].split()[0])
            self.latencies.append(time.time() - sent_at)
        super()._on_frame(frame)


async def run_pairs(url, pairs, seconds, rate, run_id, ready, go, results) -> None:
    senders, readers = [], []
    by_token: dict[str, StampingReader] = {}  # one socket per instructor, as one browser tab
    for conversation_id, student_token, teacher_token in pairs:
        reader = by_token.get(teacher_token)
        if reader is None:
            reader = by_token[teacher_token] = StampingReader(url, teacher_token, reconnect=False)
            await reader.connect()
            readers.append(reader)
        await reader.subscribe(f"conversation:{conversation_id}")
        sender = HubClient(url, student_token, reconnect=False)
        await sender.connect()
        senders.append((conversation_id, sender))
    ready.put(len(pairs))
    await asyncio.to_thread(go.wait)
    deadline = time.monotonic() + seconds
    sent = refused = 0

    async def send_loop(conversation_id: int, sender: HubClient) -> None:
        nonlocal sent, refused
        n = 0
        next_at = time.monotonic()
        if rate:  # people do not type in step: spread the senders over one interval
            next_at += random.random() / rate
            await asyncio.sleep(next_at - time.monotonic())
        while time.monotonic() < deadline:
            body = f"{time.time():.6f} message {n}"
            try:
                await sender.publish(
                    f"conversation:{conversation_id}",
                    "message.send",
                    {"body": body, "client_id": f"{run_id}-{n}"},
                )
                sent += 1
            except Exception:
                refused += 1
            n += 1
            if rate:
                next_at += 1 / rate
                await asyncio.sleep(max(0, next_at - time.monotonic()))

    began = time.monotonic()
    await asyncio.gather(*(send_loop(c, s) for c, s in senders))
    elapsed = time.monotonic() - began
    await asyncio.sleep(2)  # let the last messages land
    latencies = [x for r in readers for x in r.latencies]
    cpu = os.times()
    results.put(
        {
            "sent": sent,
            "refused": refused,
            "received": len(latencies),
            "latencies": latencies,
            "elapsed": elapsed,
            "cpu": cpu.user + cpu.system,
        }
    )
    for client in [*readers, *(s for _, s in senders)]:
        await client.close()


def process_cpu(pid: int | None) -> float:
    """User + system CPU seconds of `pid` and its children (0 when not given), from /proc."""
    if not pid:
        return 0.0
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def client_process(*args) -> None:
    asyncio.run(run_pairs(*args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8100/ws/v1/")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=0, help="per conversation; 0: closed loop")
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument(
        "--one-instructor", action="store_true", help="every conversation with one instructor"
    )
    parser.add_argument(
        "--server-pid", type=int, help="report this process's CPU (and its children's) over the run"
    )
    args = parser.parse_args()

    pairs = setup(args.conversations, args.one_instructor)
    run_id = f"{int(time.time())}"
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    shares = [pairs[i :: args.procs] for i in range(args.procs)]
    procs = [
        ctx.Process(
            target=client_process,
            args=(args.url, share, args.seconds, args.rate, run_id, ready, go, results),
        )
        for share in shares
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=120)
    server_cpu = process_cpu(args.server_pid)
    go.set()
    outcomes = [results.get(timeout=args.seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    server_cpu = process_cpu(args.server_pid) - server_cpu

    sent = sum(o["sent"] for o in outcomes)
    received = sum(o["received"] for o in outcomes)
    refused = sum(o["refused"] for o in outcomes)
    elapsed = max(o["elapsed"] for o in outcomes)
    latencies = sorted(x * 1000 for o in outcomes for x in o["latencies"])

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    if args.server_pid:
        print(
            f"server CPU {server_cpu:.1f} s: {server_cpu / max(1, received) * 1000:.2f} ms"
            " per delivered message (over the run and its 2 s tail)"
        )
    mode = f"paced {args.rate}/s each" if args.rate else "closed loop"
    print(f"{args.conversations} conversations, {mode}, {elapsed:.1f} s, {args.procs} client procs")
    print(f"sent {sent} (refused {refused}), received {received}, lost {sent - received}")
    print(f"throughput: {received / elapsed:.0f} messages/s delivered")
    print(
        f"send -> receipt: p50 {statistics.median(latencies):.1f} ms, p95 {pct(95):.1f} ms, "
        f"p99 {pct(99):.1f} ms, max {latencies[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
