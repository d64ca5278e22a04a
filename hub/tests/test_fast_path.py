"""The fast path's two ends: sync publishers reuse one sender loop per process, and
daphne's wire sends straight to the socket without ever reordering frames."""

import asyncio
import json
import os

import pytest
from autobahn.twisted.websocket import WebSocketServerFactory
from channels.layers import get_channel_layer
from twisted.internet.abstract import FileDescriptor

from hub import services
from hub.fastpath import SenderLoop, sender_loop
from hub.topics import group_name
from hub.wire import DaphneWire, Outgoing

# --- sync publishers ---------------------------------------------------------------


async def _listen(topic: str):
    layer = get_channel_layer()
    channel = await layer.new_channel("test.")
    await layer.group_add(group_name(topic), channel)
    return layer, channel


async def _received(layer, channel, count: int) -> list[dict]:
    return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(count)]


async def test_sync_publishes_share_one_sender_loop_and_arrive_in_order():
    topic = "feed:901"
    layer, channel = await _listen(topic)
    loop = asyncio.get_running_loop()
    for seq in (1, 2, 3):  # from a plain thread, as a Celery task or a shell would
        await loop.run_in_executor(
            None, services._send_after_commit, topic, seq, "e", f'{{"n":{seq}}}'
        )
    messages = await _received(layer, channel, 3)
    assert [m["seq"] for m in messages] == [1, 2, 3]
    assert [m["frame"] for m in messages] == ['{"n":1}', '{"n":2}', '{"n":3}']
    sender = sender_loop.loop()
    assert sender is not loop
    # One loop, and in it one layer with one Redis client, reused by every publish.
    first_client = [shard._redis for shard in layer._layers[sender]._shards]
    await loop.run_in_executor(None, services._send_after_commit, topic, 4, "e", '{"n":4}')
    assert (await _received(layer, channel, 1))[0]["seq"] == 4
    assert sender_loop.loop() is sender
    assert [shard._redis for shard in layer._layers[sender]._shards] == first_client
    await layer.group_discard(group_name(topic), channel)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
async def test_a_forked_child_publishes_through_its_own_sender_loop():
    topic = "feed:902"
    layer, channel = await _listen(topic)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, services._send_after_commit, topic, 1, "e", "{}")
    parent_sender = sender_loop.loop()

    def fork_and_publish() -> int:
        pid = os.fork()
        if pid == 0:  # the child, as a Celery prefork worker: no parent thread here
            code = 1
            try:
                before = sender_loop.started
                services._send_after_commit(topic, 2, "e", "{}")
                code = 0 if before == 0 and sender_loop.started == 1 else 2
            finally:
                os._exit(code)
        return os.waitpid(pid, 0)[1]

    status = await loop.run_in_executor(None, fork_and_publish)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [m["seq"] for m in await _received(layer, channel, 2)] == [1, 2]
    assert sender_loop.loop() is parent_sender  # the parent's loop is untouched
    await layer.group_discard(group_name(topic), channel)


def test_a_sender_loop_gives_up_waiting_after_its_timeout():
    sender = SenderLoop(name="test-sender")
    assert sender.run(asyncio.sleep(0, result=7), timeout=5) == 7
    with pytest.raises(TimeoutError):
        sender.run(asyncio.sleep(10), timeout=0.05)
    sender.loop().call_soon_threadsafe(sender.loop().stop)


# --- daphne's wire -------------------------------------------------------------------


class ChokingSocket:
    """A socket that takes `room` bytes, then says it is full (EAGAIN)."""

    def __init__(self, room: int):
        self.room = room
        self.sent = bytearray()

    def send(self, data) -> int:
        if self.room <= 0:
            raise BlockingIOError
        taken = bytes(data[: self.room])
        self.room -= len(taken)
        self.sent += taken
        return len(taken)


class QuietReactor:
    def addWriter(self, writer):
        pass

    def removeWriter(self, writer):
        pass


class PlainTransport(FileDescriptor):
    """Twisted's own buffering (write, doWrite, producers) over a ChokingSocket."""

    def __init__(self, sock: ChokingSocket):
        super().__init__(reactor=QuietReactor())
        self.socket = sock
        self.connected = 1

    def writeSomeData(self, data) -> int:
        try:
            return self.socket.send(data)
        except BlockingIOError:
            return 0


class OpenProtocol:
    STATE_OPEN = 3

    def __init__(self, transport):
        self.state = self.STATE_OPEN
        self.factory = WebSocketServerFactory()
        self.transport = transport
        self.send_queue = []
        self._perMessageCompress = None
        self.through_autobahn = 0

    def sendPreparedMessage(self, prepared) -> None:
        self.through_autobahn += 1
        self.transport.write(prepared.payloadHybi)


def frames(data: bytes) -> list[dict]:
    """Decode unmasked server text frames (payloads under 126 bytes)."""
    out = []
    while data:
        assert data[0] == 0x81
        length = data[1]
        out.append(json.loads(data[2 : 2 + length]))
        data = data[2 + length :]
    return out


def test_the_wire_sends_directly_and_keeps_order_across_a_partial_write():
    sock = ChokingSocket(room=10_000)
    transport = PlainTransport(sock)
    protocol = OpenProtocol(transport)
    wire = DaphneWire(protocol, limit=100, on_overflow=None)

    wire.push(Outgoing('{"n": 0}'))
    assert frames(bytes(sock.sent)) == [{"n": 0}]  # on the socket at once, no loop turn
    assert not transport._tempDataBuffer and not transport.dataBuffer

    sock.room = 5  # the next frame only partly fits; the rest must wait its turn
    for n in range(1, 4):
        wire.push(Outgoing(f'{{"n": {n}}}'))
    assert len(sock.sent) == 10 + 5
    assert transport._tempDataBuffer  # the remainder and what followed: Twisted's buffer

    sock.room = 10_000  # the socket drains: Twisted writes its buffer, in order
    transport.doWrite()
    wire.push(Outgoing('{"n": 4}'))  # nothing buffered any more: direct again
    assert frames(bytes(sock.sent)) == [{"n": n} for n in range(5)]
    assert protocol.through_autobahn == 0


def test_the_wire_goes_through_autobahn_when_it_cannot_write_the_socket_itself():
    sock = ChokingSocket(room=10_000)
    transport = PlainTransport(sock)
    protocol = OpenProtocol(transport)
    protocol._perMessageCompress = object()  # compressed connections need autobahn
    wire = DaphneWire(protocol, limit=100, on_overflow=None)
    wire.push(Outgoing('{"n": 0}'))
    assert protocol.through_autobahn == 1
    transport.doWrite()
    assert frames(bytes(sock.sent)) == [{"n": 0}]


def test_a_paused_wire_queues_then_resumes_in_order():
    sock = ChokingSocket(room=10_000)
    transport = PlainTransport(sock)
    wire = DaphneWire(OpenProtocol(transport), limit=100, on_overflow=None)
    wire.pauseProducing()
    for n in range(3):
        wire.push(Outgoing(f'{{"n": {n}}}'))
    assert not sock.sent
    wire.resumeProducing()
    wire.push(Outgoing('{"n": 3}'))
    assert frames(bytes(sock.sent)) == [{"n": n} for n in range(4)]
