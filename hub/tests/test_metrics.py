"""The hub's metrics, read from this process's registry around real sockets (no
multiprocess directory here: every figure is this process's own)."""

import asyncio
import time
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from hub import metrics
from hub.services import event_frame
from hub.wire import AsgiWire, Outgoing

pytestmark = pytest.mark.django_db(transaction=True)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Figures:
    """The change of some samples since this was made (other tests count in them too)."""

    def __init__(self, *samples: tuple[str, dict[str, str]]):
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def changes(self) -> list[float]:
        return [
            value(name, **labels) - before
            for (name, labels), before in zip(self.samples, self.before, strict=True)
        ]


async def until(condition, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the figure never came"
        await asyncio.sleep(0.02)


async def test_connections_subscriptions_and_each_event_are_counted(ws_user, connect):
    _, token = await ws_user()
    figures = Figures(
        ("hub_connections", {}),
        ("hub_subscriptions", {}),
        ("hub_events_published_total", {"type": "said"}),
        ("hub_events_delivered_total", {"type": "said"}),
        ("hub_event_delivery_seconds_count", {}),
    )
    first, second = await connect(token), await connect(token)
    for client in (first, second):
        assert (await client.call("subscribe", topic="feed:41"))["ok"]
    assert figures.changes()[:2] == [2, 2]
    assert (await first.call("publish", topic="feed:41", type="say", data={"text": "hi"}))["ok"]
    for client in (first, second):
        assert (await client.recv())["type"] == "said"
    # Published once, handed to both subscribers, its lateness observed once.
    assert figures.changes()[2:] == [1, 2, 1]
    assert (await first.call("unsubscribe", topic="feed:41"))["ok"]
    await second.close()
    await until(lambda: figures.changes()[:2] == [1, 0])


async def test_ephemeral_events_are_counted_too(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    assert (await client.call("subscribe", topic="feed:42"))["ok"]
    figures = Figures(
        ("hub_events_published_total", {"type": "waved"}),
        ("hub_events_delivered_total", {"type": "waved"}),
    )
    assert (await client.call("publish", topic="feed:42", type="wave", data={}))["ok"]
    assert (await client.recv())["type"] == "waved"
    assert figures.changes() == [1, 1]


async def test_a_slow_consumer_close_is_counted(ws_user, connect, settings):
    settings.HUB_OUTGOING_QUEUE_FRAMES = 2
    _, token = await ws_user()
    client = await connect(token)
    epoch = (await client.call("subscribe", topic="feed:43"))["data"]["epoch"]
    assert (await client.call("unsubscribe", topic="feed:43"))["ok"]
    for n in range(3):
        assert (await client.call("publish", topic="feed:43", type="say", data={"n": n}))["ok"]
    closes = Figures(("hub_slow_consumer_closes_total", {}))
    # The reply and three replayed events are pushed at once: past the queue of 2.
    await client.send({"op": "subscribe", "topic": "feed:43", "since": 0, "epoch": epoch})
    assert await client.comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4008}
    assert closes.changes() == [1]


async def test_budget_refusals_and_the_close_for_them_are_counted(ws_user, connect, settings):
    settings.HUB_OPERATIONS_PER_SECOND = 0.01
    settings.HUB_OPERATIONS_BURST = 3
    settings.HUB_OPERATIONS_REFUSED_BEFORE_CLOSE = 2
    _, token = await ws_user()
    client = await connect(token)  # auth: 1 of 3
    figures = Figures(
        ("hub_rate_limited_total", {"limit": "connection"}), ("hub_budget_closes_total", {})
    )
    for _ in range(2):
        assert (await client.call("ping"))["ok"]
    for _ in range(2):
        assert (await client.call("ping"))["error"]["code"] == "rate_limited"
    await client.send({"op": "ping"})
    assert await client.comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 1008}
    assert figures.changes() == [2, 1]


async def test_queue_depth_is_sampled_over_the_wires():
    stuck = asyncio.Event()

    async def never_sends(message: dict) -> None:
        await stuck.wait()  # a socket that takes nothing

    async def overflow() -> None:
        pass

    wires = [AsgiWire(never_sends, 100, overflow) for _ in range(3)]
    for wire, frames in zip(wires, (1, 4, 6), strict=True):
        for _ in range(frames):
            wire.push(Outgoing("{}"))
    # Each writer takes its first frame and waits on the socket with it.
    await until(lambda: [wire.queued for wire in wires] == [0, 3, 5])
    metrics.queues_sample(wires)
    assert (value("hub_outgoing_queue_frames"), value("hub_outgoing_queue_frames_max")) == (8, 5)
    metrics.queues_sample([])
    assert value("hub_outgoing_queue_frames") == 0
    for wire in wires:
        wire.stop()


def test_an_event_frame_gives_its_type_and_time_without_parsing():
    ts = "2026-12-01T09:30:00.123Z"
    durable = event_frame(topic="user:7", event_type="booking.created", data={"ts": 1}, ts=ts)
    ephemeral = event_frame(topic="conversation:3", event_type="typing", data={}, ts=ts, seq=None)
    expected = datetime(2026, 12, 1, 9, 30, 0, 123000, tzinfo=UTC).timestamp()
    for frame, event_type in ((durable, "booking.created"), (ephemeral, "typing")):
        found_type, found_ts = metrics.frame_type_and_time(frame)
        assert found_type == event_type and found_ts == pytest.approx(expected)
    # Another shape is parsed; what is no event at all counts as unknown.
    reordered = '{"ts":"2026-12-01T09:30:00.123Z","type":"read","op":"event"}'
    assert metrics.frame_type_and_time(reordered) == ("read", pytest.approx(expected))
    assert metrics.frame_type_and_time('{"op": "warm-up"}') == ("unknown", None)
    assert metrics.frame_type_and_time("not json") == ("unknown", None)
