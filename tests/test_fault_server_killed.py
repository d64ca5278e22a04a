"""Fault drill: one of two server processes is killed (SIGKILL) mid-traffic.

Clients reach the servers through a balancer (tests.faults.TcpProxy) that sends each
connection to the first server that accepts, so they all start on A. A is killed
while B's publisher keeps going: every client reconnects through the balancer, lands
on B, resumes each topic from its last seq, and ends with every event exactly once.
"""

import asyncio
import os
import signal
import time

import pytest

from accounts.services import token_create, user_create
from hub.client import Event, HubClient
from tests.faults import TcpProxy
from tests.helpers import PASSWORD
from tests.live import e2e_server_command, free_port, running, server_env, wait_for_http

pytestmark = pytest.mark.django_db(transaction=True)

LISTENERS = 20
EVENTS = 300
KILL_AFTER = 100
TOPICS = ("room:21", "room:22")


async def listen(client: HubClient, received: dict, arrived: list, done: asyncio.Event):
    """Collect (topic, seq) until every event of every topic is in, noting arrival times."""
    while sum(len(seqs) for seqs in received.values()) < EVENTS * len(TOPICS):
        event = await client.next_event(30)
        assert isinstance(event, Event), f"the server could not resume: {event}"
        if event.type == "said":
            received[event.topic].append(event.seq)
            arrived.append(time.monotonic())
    done.set()


def test_clients_of_a_killed_server_resume_on_the_other_with_nothing_lost_or_doubled():
    token = token_create(user=user_create(email="drill@example.com", password=PASSWORD))[1]
    port_a, port_b = free_port(), free_port()
    # One publisher sends far more than a person would: lift the per-connection budget.
    env = server_env(HUB_OPERATIONS_PER_SECOND="10000", HUB_OPERATIONS_BURST="10000")
    with (
        running(e2e_server_command(port_a), env) as server_a,
        running(e2e_server_command(port_b), env) as server_b,
    ):
        wait_for_http(f"http://127.0.0.1:{port_a}/healthz", process=server_a)
        wait_for_http(f"http://127.0.0.1:{port_b}/healthz", process=server_b)
        with TcpProxy(("127.0.0.1", port_a), ("127.0.0.1", port_b)) as balancer:
            figures = asyncio.run(
                drill(f"ws://127.0.0.1:{balancer.port}/ws/v1/",
                      f"ws://127.0.0.1:{port_b}/ws/v1/", token, server_a.pid)
            )  # fmt: skip
        assert server_b.poll() is None, "the surviving server must still be up"
    print(
        f"\n{LISTENERS} clients on {len(TOPICS)} topics, {EVENTS} events each, A killed after "
        f"{KILL_AFTER}: the last client's first event after the kill came "
        f"{figures['worst_gap']:.2f} s after it (median {figures['median_gap']:.2f} s); "
        f"all caught up {figures['caught_up']:.2f} s after the last publish"
    )


async def drill(balanced_url: str, url_b: str, token: str, pid_a: int) -> dict:
    listeners = [HubClient(balanced_url, token) for _ in range(LISTENERS)]
    for listener in listeners:
        await listener.connect()
        for topic in TOPICS:
            await listener.subscribe(topic)
    first_connections = [listener.connection_id for listener in listeners]
    received = [{topic: [] for topic in TOPICS} for _ in listeners]
    arrived: list[list[float]] = [[] for _ in listeners]
    done = [asyncio.Event() for _ in listeners]
    tasks = [
        asyncio.create_task(listen(*args))
        for args in zip(listeners, received, arrived, done, strict=True)
    ]
    killed_at = 0.0
    async with HubClient(url_b, token) as publisher:
        for n in range(EVENTS):
            if n == KILL_AFTER:
                os.kill(pid_a, signal.SIGKILL)
                killed_at = time.monotonic()
            for topic in TOPICS:
                reply = await publisher.publish(topic, "say", {"text": str(n)})
                assert reply == {"seq": n + 1}
            await asyncio.sleep(0.005)
    published_at = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    for got in received:
        for topic in TOPICS:
            assert got[topic] == list(range(1, EVENTS + 1)), topic
    assert all(listener.duplicates == 0 for listener in listeners)
    moved = [listener.connection_id for listener in listeners]
    assert not set(moved) & set(first_connections), "every client reconnected to B"
    gaps = sorted(min(t for t in times if t > killed_at) - killed_at for times in arrived)
    for listener in listeners:
        await listener.close()
    return {
        "worst_gap": gaps[-1],
        "median_gap": gaps[len(gaps) // 2],
        "caught_up": max(0.0, max(times[-1] for times in arrived) - published_at),
    }
