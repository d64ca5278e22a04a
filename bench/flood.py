"""Clients that send far faster than they are served: how long each frame waits for its
answer, and how many were done or refused (the backpressure of hub.intake).

    bench/server.sh start   # HUB_OPERATIONS_BURST and CHAT_MESSAGE_BURST raised: bench/README.md
    source bench/env.sh && .venv/bin/python bench/flood.py --frames 40 --sockets 50

Each socket authenticates, then sends all its `message.send` frames at once and reads
the replies; the delay of a frame is from the client's send to its reply.
"""

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import django_setup


def setup(sockets: int) -> list[tuple[str, int]]:
    """One student per socket, each in a conversation with the same instructor."""
    django_setup()
    from accounts.models import User
    from accounts.services import token_create, user_create
    from chat.services import conversation_open

    def user(email: str, role: str) -> User:
        found = User.objects.filter(email=email).first()
        return found or user_create(email=email, password=None, name=email[:12], role=role)

    teacher = user("flood-teacher@bench.example.com", "instructor")
    pairs = []
    for n in range(sockets):
        student = user(f"flood-{n}@bench.example.com", "student")
        conversation, _ = conversation_open(user=student, participant_id=teacher.pk)
        pairs.append((token_create(user=student)[1], conversation.pk))
    return pairs


async def flood(url: str, token: str, conversation_id: int, frames: int, found: dict) -> None:
    run = f"{time.time()}"
    async with websockets.connect(url, max_queue=None) as ws:
        await ws.send(orjson.dumps({"op": "auth", "ref": 0, "token": token}).decode())
        while orjson.loads(await ws.recv()).get("ref") != 0:
            pass
        sent: dict[int, float] = {}

        async def read_replies() -> None:
            for _ in range(frames):
                frame = orjson.loads(await ws.recv())
                while frame.get("op") != "reply":
                    frame = orjson.loads(await ws.recv())
                found["delays"].append(time.perf_counter() - sent[frame["ref"]])
                found["outcomes"][frame["error"]["code"] if not frame["ok"] else "done"] += 1

        reader = asyncio.create_task(read_replies())
        for n in range(1, frames + 1):
            sent[n] = time.perf_counter()
            data = {"body": "x", "client_id": f"{run}-{n}"}
            frame = {"op": "publish", "ref": n, "topic": f"conversation:{conversation_id}",
                     "type": "message.send", "data": data}  # fmt: skip
            await ws.send(orjson.dumps(frame).decode())
        await reader


async def main(args: argparse.Namespace, pairs: list[tuple[str, int]]) -> None:
    found: dict = {"delays": [], "outcomes": Counter()}
    began = time.perf_counter()
    await asyncio.gather(*(flood(args.url, t, c, args.frames, found) for t, c in pairs))
    delays = sorted(found["delays"])
    print(
        f"{len(delays)} frames from {len(pairs)} sockets in {time.perf_counter() - began:.1f} s;"
        f" reply delay p50 {delays[len(delays) // 2]:.2f} s,"
        f" p99 {delays[int(len(delays) * 0.99)]:.2f} s, max {delays[-1]:.2f} s;"
        f" {dict(found['outcomes'])}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="ws://127.0.0.1:8100/ws/v1/")
    parser.add_argument("--frames", type=int, default=40, help="sent at once on each socket")
    parser.add_argument("--sockets", type=int, default=50)
    arguments = parser.parse_args()
    asyncio.run(main(arguments, setup(arguments.sockets)))
