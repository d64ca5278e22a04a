"""The Python client's receive path: frames are handled as they are parsed off the socket.

A small websockets server stands in for the hub so the client can be fed frames
the real server never sends (fragmented, binary, unparseable, malformed).
"""

import logging

import orjson
import pytest
from websockets.asyncio.server import serve

from hub.client import Event, HubClient


def event_frame(seq: int) -> bytes:
    return orjson.dumps(
        {"op": "event", "topic": "user:1", "seq": seq, "type": "t", "data": {"n": seq}, "ts": "x"}
    )


async def hub_stand_in(ws) -> None:
    async for text in ws:
        request = orjson.loads(text)
        if request["op"] == "auth":
            data = {"user_id": 1, "connection_id": "c1"}
        else:
            data = {"seq": 0, "epoch": "e1", "recovered": True}
        await ws.send(
            orjson.dumps({"op": "reply", "ref": request["ref"], "ok": True, "data": data})
        )
        if request["op"] == "subscribe":
            await ws.send(event_frame(1).decode())
            await ws.send([event_frame(2)[:10].decode(), event_frame(2)[10:].decode()])  # fragments
            await ws.send(b"not json")  # a binary frame, unparseable
            await ws.send("{also not json")
            await ws.send('{"op": "event"}')  # no topic: logged and skipped
            await ws.send(event_frame(2).decode())  # a duplicate: counted, not yielded
            await ws.send(event_frame(3), text=True)


@pytest.fixture
async def stand_in_url():
    async with serve(hub_stand_in, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/"


async def test_frames_in_any_shape_reach_the_events_in_order(stand_in_url, caplog):
    caplog.set_level(logging.WARNING, logger="hub.client")
    async with HubClient(stand_in_url, "token", reconnect=False) as client:
        await client.subscribe("user:1")
        received = [await client.next_event(timeout=5) for _ in range(3)]
    assert received == [Event("user:1", "t", {"n": n}, "x", n) for n in (1, 2, 3)]
    assert client.duplicates == 1
    assert "Unparseable frame" in caplog.text
    assert "Could not handle a frame" in caplog.text


class FlakyHub:
    """A hub stand-in that drops the first connection (1001, a restart), answers the
    second handshake with 503, refuses the third's auth as `unavailable`, then serves."""

    def __init__(self) -> None:
        self.attempts = 0
        self.open = 0

    def process_request(self, connection, request):
        self.attempts += 1
        if self.attempts == 2:
            return connection.respond(503, "starting\n")
        return None

    async def handler(self, ws) -> None:
        attempt, self.open = self.attempts, self.open + 1
        try:
            async for text in ws:
                request = orjson.loads(text)
                if request["op"] == "auth" and attempt == 3:
                    error = {"code": "unavailable", "message": "busy", "retry_after": 0.05}
                    reply = {"op": "reply", "ref": request["ref"], "ok": False, "error": error}
                    await ws.send(orjson.dumps(reply).decode())
                    continue
                data = (
                    {"user_id": 1, "connection_id": f"c{attempt}"}
                    if request["op"] == "auth"
                    else {"seq": 0, "epoch": "e1", "recovered": True}
                )
                reply = {"op": "reply", "ref": request["ref"], "ok": True, "data": data}
                await ws.send(orjson.dumps(reply).decode())
                if request["op"] == "subscribe" and attempt == 1:
                    await ws.close(1001)
                elif request["op"] == "subscribe":
                    await ws.send(event_frame(1).decode())
        finally:
            self.open -= 1


async def test_the_client_retries_a_busy_or_half_started_server_with_one_reconnect_loop():
    hub = FlakyHub()
    async with serve(hub.handler, "127.0.0.1", 0, process_request=hub.process_request) as server:
        port = server.sockets[0].getsockname()[1]
        client = HubClient(f"ws://127.0.0.1:{port}/", "token")
        await client.connect()
        await client.subscribe("user:1")
        event = await client.next_event(timeout=10)
        assert event == Event("user:1", "t", {"n": 1}, "x", 1)
        assert (hub.attempts, hub.open, client.connection_id) == (4, 1, "c4")
        await client.close()
