"""Drill: Redis is SIGKILLed mid-traffic and started again on the same port (empty).

Redis is a fast path and a cache (design.md rule 5): while it is away publishing keeps
committing, new sockets authenticate and subscribe, the log tail delivers, and once it
is back the fast path delivers again by itself; every listener ends with every seq
exactly once, in order, and no server is restarted. Run with -s to see the figures.
"""

import asyncio
import statistics
import time

import pytest

from chat.services import conversation_open
from hub.client import Event, HubClient, HubError
from tests.faults import RedisServer
from tests.live import e2e_server_command, free_port, running, server_env

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, OUTAGE, AFTER = 1.0, 3.0, 3.0  # seconds of traffic in each phase
PUBLISH_EVERY = 0.03
FAST = 0.25  # a delivery this quick came by the fast path (the tail runs every 2 s)


class Listener:
    """A HubClient on one server that notes when each event of its topic arrived."""

    def __init__(self, url: str, token: str):
        self.client = HubClient(url, token)
        self.arrived: dict[str, list[tuple[int, float, float]]] = {}  # topic -> (seq, sent, at)
        self.first_seq: dict[str, int] = {}
        self._reader: asyncio.Task | None = None

    async def start(self, *topics: str) -> None:
        await self.client.connect()
        for topic in topics:
            await self.follow(topic)
        self._reader = asyncio.create_task(self._read())

    async def follow(self, topic: str) -> dict:
        reply = await self.client.subscribe(topic)
        self.first_seq[topic] = reply["seq"] + 1
        self.arrived.setdefault(topic, [])
        return reply

    async def _read(self) -> None:
        async for item in self.client.events():
            if isinstance(item, Event) and item.type == "said":
                sent = float(item.data["text"])
                self.arrived[item.topic].append((item.seq, sent, time.monotonic()))

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.client.close()


async def drill(redis_server: RedisServer, url_a: str, url_b: str, tokens, conversation):
    student, instructor = tokens
    early = [Listener(url_a, student), Listener(url_a, instructor)]
    for listener in early:
        await listener.start("room:7")
    publisher = await HubClient(url_b, student).__aenter__()
    published: dict[str, list[tuple[int, float]]] = {"room:7": [], "room:8": []}
    refused: list[tuple[str, str]] = []
    stop = asyncio.Event()

    async def publish_steadily() -> None:
        while not stop.is_set():
            for topic in published:
                sent = time.monotonic()
                try:
                    reply = await publisher.publish(topic, "say", {"text": f"{sent:.6f}"})
                    published[topic].append((reply["seq"], sent))
                except HubError as exc:
                    refused.append((topic, exc.code))
            await asyncio.sleep(PUBLISH_EVERY)

    publishing = asyncio.create_task(publish_steadily())
    await asyncio.sleep(BEFORE)
    redis_server.kill()
    killed = time.monotonic()
    await asyncio.sleep(0.3)

    # While Redis is away: a new socket authenticates, subscribes (a topic new to its
    # process, and a presence topic) and sends a chat message (rate-limited in Redis).
    late = Listener(url_a, student)
    await late.start("room:8")
    presence_reply = await late.client.subscribe(f"conversation:{conversation}")
    chat = await HubClient(url_b, instructor).__aenter__()
    sent_chat = await chat.publish(
        f"conversation:{conversation}", "message.send", {"body": "hi", "client_id": "drill-1"}
    )
    await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - killed)))
    redis_server.start()
    back = time.monotonic()
    await asyncio.sleep(AFTER)
    stop.set()
    await publishing
    await asyncio.sleep(2.5)  # one tail interval: anything still missing would be healed
    for listener in [*early, late]:
        await listener.stop()
    await publisher.close()
    await chat.close()
    return {
        "early": early,
        "late": late,
        "published": published,
        "refused": refused,
        "killed": killed,
        "back": back,
        "presence": presence_reply.get("presence"),
        "chat": sent_chat,
        "duplicates": sum(listener.client.duplicates for listener in [*early, late]),
    }


def report(outcome) -> None:
    """Print how late the outage's events came and when the fast path was back."""
    killed, back = outcome["killed"], outcome["back"]
    arrivals = outcome["early"][0].arrived["room:7"]
    during = [at - sent for _, sent, at in arrivals if killed <= sent < back]
    print(f"\nRedis down {back - killed:.2f} s; {len(during)} events published meanwhile")
    print(
        f"  their delivery delay: median {statistics.median(during):.2f} s, "
        f"max {max(during):.2f} s (healed by the log tail)"
    )
    for name, listener, topic in (
        ("joined before", outcome["early"][0], "room:7"),
        ("joined during", outcome["late"], "room:8"),
    ):
        fast = [at for _, sent, at in listener.arrived[topic] if sent >= back and at - sent < FAST]
        after = [at - sent for _, sent, at in listener.arrived[topic] if sent >= back + 1.0]
        recovered = f"{fast[0] - back:.2f} s" if fast else "never"
        print(f"  {topic} ({name} the outage): fast path back {recovered} after Redis")
        if after:
            print(
                f"    delay of {len(after)} events published 1 s after Redis was back: "
                f"median {statistics.median(after) * 1000:.0f} ms, max {max(after) * 1000:.0f} ms"
            )


def test_a_redis_restart_loses_nothing_and_the_fast_path_comes_back(tmp_path, make_user):
    from accounts.services import token_create

    student, instructor = make_user("student"), make_user("instructor")
    conversation, _ = conversation_open(user=student, participant_id=instructor.pk)
    tokens = (token_create(user=student)[1], token_create(user=instructor)[1])
    redis_server = RedisServer(tmp_path)
    with redis_server.running():
        # A steady publisher sends ~60 commands a second on one socket: over its default budget.
        env = server_env(REDIS_URL=redis_server.url, HUB_OPERATIONS_PER_SECOND="200")
        port_a, port_b = free_port(), free_port()
        with (
            running(e2e_server_command(port_a), env,
                    wait_url=f"http://127.0.0.1:{port_a}/healthz") as server_a,
            running(e2e_server_command(port_b), env,
                    wait_url=f"http://127.0.0.1:{port_b}/healthz") as server_b,
        ):  # fmt: skip
            outcome = asyncio.run(
                drill(redis_server, f"ws://127.0.0.1:{port_a}/ws/v1/",
                      f"ws://127.0.0.1:{port_b}/ws/v1/", tokens, conversation.pk)
            )  # fmt: skip
            assert server_a.poll() is None and server_b.poll() is None, "a server died"
    report(outcome)
    assert outcome["refused"] == []
    assert outcome["chat"]["message"]["body"] == "hi"
    assert student.pk in outcome["presence"]
    assert outcome["duplicates"] == 0
    for topic, sent in outcome["published"].items():
        seqs = [seq for seq, _ in sent]
        assert seqs == list(range(1, len(seqs) + 1)), topic  # every publish committed, in order
    for listener, topic in [(li, "room:7") for li in outcome["early"]] + [
        (outcome["late"], "room:8")
    ]:
        last = outcome["published"][topic][-1][0]
        heard = [seq for seq, _, _ in listener.arrived[topic]]
        assert heard == list(range(listener.first_seq[topic], last + 1)), topic
