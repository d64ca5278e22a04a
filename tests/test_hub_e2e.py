"""The hub end to end: live daphne processes on PostgreSQL and Redis, our Python client."""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time

import pytest
import websockets

from accounts.services import token_create, user_create
from hub.client import HubClient
from tests.helpers import PASSWORD, on_worker, publish_from_worker
from tests.live import e2e_server_command as server_command
from tests.live import free_port, running, server_env, wait_for_http

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def shared_ports(live_servers) -> list[int]:
    """Two servers for the tests that neither stop nor reconfigure theirs."""
    return live_servers.start(server_command, server_env(), count=2)


def make_token(email: str) -> str:
    user = user_create(email=email, password=PASSWORD, name=email[:5])
    return token_create(user=user)[1]


async def said(client: HubClient, count: int, timeout: float = 10) -> list:
    events = []
    while len(events) < count:
        event = await client.next_event(timeout)
        if getattr(event, "type", None) == "said":
            events.append(event)
    return events


def test_events_cross_server_processes_from_requests_and_from_a_celery_worker(shared_ports, worker):
    token = make_token("e2e@example.com")
    port_a, port_b = shared_ports

    async def scenario():
        async with (
            HubClient(f"ws://127.0.0.1:{port_a}/ws/v1/", token) as on_a,
            HubClient(f"ws://127.0.0.1:{port_b}/ws/v1/", token) as on_b,
        ):
            await on_a.subscribe("room:1")
            reply = await on_b.publish("room:1", "say", {"text": "from B"})
            assert reply == {"seq": 1}
            event = (await said(on_a, 1))[0]
            assert (event.seq, event.data["text"]) == (1, "from B")

            seq = await asyncio.to_thread(on_worker, publish_from_worker, ("room:1", 2))
            assert seq == 2
            event = (await said(on_a, 1))[0]
            assert (event.seq, event.data) == (2, {"n": 2, "from": "worker"})
            assert on_a.duplicates == 0

    asyncio.run(scenario())


def test_a_client_that_stops_reading_is_closed_with_4008():
    token = make_token("slow@example.com")
    port = free_port()
    # The talker sends 400 commands at once: a budget that allows them (tested elsewhere).
    env = server_env(HUB_OUTGOING_QUEUE_FRAMES="20", HUB_OPERATIONS_BURST="1000")
    with running(server_command(port), env, wait_url=f"http://127.0.0.1:{port}/healthz"):

        async def scenario():
            url = f"ws://127.0.0.1:{port}/ws/v1/"
            async with HubClient(url, token) as talker:
                slow = await websockets.connect(url, max_queue=1, max_size=2**20)
                await slow.send(f'{{"op": "auth", "token": "{token}"}}')
                await slow.send('{"op": "subscribe", "topic": "room:2"}')
                replies = 0
                while replies < 2:  # auth and subscribe answered: the socket is subscribed
                    frame = json.loads(await asyncio.wait_for(slow.recv(), 10))
                    replies += frame["op"] == "reply"
                # The slow client reads nothing from here on; the talker publishes ~16 MB.
                text = "x" * 40_000
                await asyncio.gather(
                    *(talker.publish("room:2", "say", {"text": text}) for _ in range(400))
                )
                with pytest.raises(websockets.ConnectionClosed):
                    while True:
                        await asyncio.wait_for(slow.recv(), 10)
                assert slow.close_code == 4008
                assert (await talker.request("ping")) == {}  # the server is fine

        asyncio.run(scenario())


def test_graceful_shutdown_closes_clients_with_1001():
    token = make_token("bye@example.com")
    port = free_port()
    with running(
        server_command(port), server_env(), wait_url=f"http://127.0.0.1:{port}/healthz"
    ) as server:

        async def scenario():
            client = HubClient(f"ws://127.0.0.1:{port}/ws/v1/", token, reconnect=False)
            await client.connect()
            await client.subscribe("room:3")
            os.killpg(server.pid, signal.SIGTERM)
            with pytest.raises(Exception) as closed:
                while True:
                    await client.next_event(10)
            assert getattr(closed.value, "code", None) == 1001
            await client.close()

        asyncio.run(scenario())


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_a_redis_restart_does_not_leave_a_server_deaf(tmp_path):
    token = make_token("outage@example.com")
    redis_port, port = free_port(), free_port()
    redis_command = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]  # fmt: skip

    def start_redis() -> subprocess.Popen:
        process = subprocess.Popen(redis_command, stdout=subprocess.DEVNULL)
        for _ in range(50):
            if subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                              capture_output=True).returncode == 0:  # fmt: skip
                return process
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def channels_listened_to() -> set[str]:
        """The pub/sub channels the server's channel layer has subscribed on our Redis."""
        listed = subprocess.run(["redis-cli", "-p", str(redis_port), "pubsub", "channels"],
                                capture_output=True, text=True)  # fmt: skip
        return set(listed.stdout.split())

    async def resubscribed(channels: set[str], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not channels <= await asyncio.to_thread(channels_listened_to):
            assert time.monotonic() < deadline, "the channel layer did not resubscribe"
            await asyncio.sleep(0.05)

    redis = {"process": start_redis()}
    # A long tail: only a reconnected fast path can bring events promptly.
    env = server_env(REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", HUB_TAIL_INTERVAL_SECONDS="60")
    try:
        with running(server_command(port), env, wait_url=f"http://127.0.0.1:{port}/healthz"):
            url = f"ws://127.0.0.1:{port}/ws/v1/"

            async def scenario():
                async with HubClient(url, token) as listener, HubClient(url, token) as talker:
                    await listener.subscribe("room:4")
                    await talker.publish("room:4", "say", {"text": "before"})
                    assert (await said(listener, 1))[0].seq == 1

                    away = HubClient(url, token)
                    await away.connect()
                    await away.subscribe("room:4")
                    await away.close()

                    listened = await asyncio.to_thread(channels_listened_to)
                    assert listened
                    redis["process"].terminate()
                    redis["process"].wait()
                    # During the outage the event is committed to the log all the same.
                    assert (await talker.publish("room:4", "say", {"text": "during"})) == {"seq": 2}
                    redis["process"] = await asyncio.to_thread(start_redis)
                    await resubscribed(listened)  # the layer's receive loop reconnected
                    await talker.publish("room:4", "say", {"text": "after"})
                    events = await said(listener, 2, timeout=10)
                    assert [(e.seq, e.data["text"]) for e in events] == [
                        (2, "during"),
                        (3, "after"),
                    ]
                    # A client that was away resumes exactly what it missed.
                    back = HubClient(url, token)
                    back.positions = away.positions
                    await back.connect()
                    events = await said(back, 2)
                    assert [e.seq for e in events] == [2, 3]
                    await back.close()

            asyncio.run(scenario())
    finally:
        redis["process"].terminate()
        redis["process"].wait()


def test_close_codes_over_a_real_daphne(shared_ports):
    token = make_token("codes@example.com")
    url = f"ws://127.0.0.1:{shared_ports[0]}/ws/v1/"

    async def close_code_after(frame, **connect) -> int:
        async with websockets.connect(url, max_size=2**21, **connect) as ws:
            if frame is not None:
                await ws.send(frame)
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code

    async def scenario():
        assert await close_code_after(b"\x00") == 1003
        assert await close_code_after('{"op": "ping", "pad": "' + "x" * 70_000 + '"}') == 1009
        assert await close_code_after('{"op": "auth", "token": "hub_nope"}') == 4001
        evil = {"origin": "https://evil.example.com"}
        assert await close_code_after(None, **evil) == 1008
        async with HubClient(url, token, origin="http://localhost:8000") as client:
            await client.ping()

    asyncio.run(scenario())


def test_the_client_reconnects_and_resumes_by_itself_after_a_server_restart():
    from hub.services import publish

    token = make_token("again@example.com")
    port = free_port()
    url = f"ws://127.0.0.1:{port}/ws/v1/"
    env = server_env()
    first = subprocess.Popen(server_command(port), env=env, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=first)

        async def scenario():
            nonlocal first
            async with HubClient(url, token) as client:
                await client.subscribe("room:5")
                await asyncio.to_thread(publish, topic="room:5", event_type="said", data={"n": 1})
                assert (await said(client, 1))[0].seq == 1
                os.killpg(first.pid, signal.SIGTERM)
                await asyncio.to_thread(first.wait, 15)
                # Missed while no server was up.
                await asyncio.to_thread(publish, topic="room:5", event_type="said", data={"n": 2})
                await asyncio.to_thread(publish, topic="room:5", event_type="said", data={"n": 3})
                first = await asyncio.to_thread(
                    subprocess.Popen, server_command(port), env=env, start_new_session=True
                )
                events = await said(client, 2, timeout=20)
                assert [(e.seq, e.data["n"]) for e in events] == [(2, 2), (3, 3)]
                assert client.duplicates == 0

        asyncio.run(scenario())
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(15)
