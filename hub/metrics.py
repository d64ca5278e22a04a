"""The live transport's metrics: connections, subscriptions, events, latency, queues.

Counted where it is cheap: per connection opened or closed, per subscription, and
per event per process (never per frame per connection). The event's type and
time are read from its one encoded frame, not parsed again per subscriber. With
several processes each writes its own file (prometheus-client's multiprocess
mode, PROMETHEUS_MULTIPROC_DIR), and `/metrics` on any of them adds them up.
"""

import time
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import orjson
from prometheus_client import Counter, Gauge, Histogram

from conventions.metrics import rate_limited
from hub import conf
from hub.periodic import every

if TYPE_CHECKING:  # hub.wire needs twisted, which a Celery worker that publishes never does
    from hub.wire import Outgoing, Wire

CONNECTIONS = Gauge(
    "hub_connections",
    "Authenticated WebSocket connections open, over every server process.",
    multiprocess_mode="livesum",
)
SUBSCRIPTIONS = Gauge(
    "hub_subscriptions",
    "Topic subscriptions of the open connections, over every server process.",
    multiprocess_mode="livesum",
)
PUBLISHED = Counter(
    "hub_events_published",
    "Events committed and sent on the fast path (durable on commit, ephemeral at once).",
    ["type"],
)
DELIVERED = Counter(
    "hub_events_delivered",
    "Events handed to a local subscriber's outgoing queue (one per event and subscriber).",
    ["type"],
)
DELIVERY_SECONDS = Histogram(
    "hub_event_delivery_seconds",
    "From an event's `ts` (made when it was published) to its hand-over to the local "
    "subscribers of a server process; observed once per event per process.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUEUED_FRAMES = Gauge(
    "hub_outgoing_queue_frames",
    "Frames waiting in outgoing queues because their sockets were full (sampled).",
    multiprocess_mode="livesum",
)
QUEUED_FRAMES_MAX = Gauge(
    "hub_outgoing_queue_frames_max",
    "The longest outgoing queue of any one connection (sampled).",
    multiprocess_mode="livemax",
)
SLOW_CONSUMER_CLOSES = Counter(
    "hub_slow_consumer_closes",
    "Connections closed with 4008: their outgoing queue passed HUB_OUTGOING_QUEUE_FRAMES.",
)
BUDGET_CLOSES = Counter(
    "hub_budget_closes",
    "Connections closed with 1008: they kept sending through their operation budget.",
)
GROUP_COMMIT_SECONDS = Histogram(
    "hub_group_commit_seconds",
    "Time one group-commit batch took to write and commit, by writer (items wait up to "
    "one such time for their turn, then their own batch's).",
    ["writer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
LOG_READS = Counter(
    "hub_events_read_from_log",
    "Events a server process read back from the log instead of receiving them on the "
    "fast path: `gap` (a later one came first), `tail` (the periodic catch-up).",
    ["reason"],
)
GROUP_COMMIT_ITEMS = Histogram(
    "hub_group_commit_items",
    "Items written together in one transaction by a group commit (hub.groupcommit), by "
    "writer: 1 when the server is idle, more under load.",
    ["writer"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)

# A durable event's frame ends with `"ts":"2026-12-01T09:30:00.123Z"}` (hub.services).
_TS_TAIL = len('"2026-12-01T09:30:00.123Z"}')
_TS_KEY = '"ts":'
_TYPE_KEY = '"type":"'
# Children per event type, so the hot path skips prometheus-client's labels() lock.
_published: dict[str, Counter] = {}
_delivered: dict[str, Counter] = {}


def frame_type_and_time(text: str) -> tuple[str, float | None]:
    """An event frame's type and `ts` (seconds since the epoch), read without parsing it.

    hub.services writes `type` before `data` and `ts` last; anything else is parsed.
    """
    start = text.find(_TYPE_KEY)
    ts_key = len(text) - _TS_TAIL - len(_TS_KEY)
    if start < 0 or text[ts_key : ts_key + len(_TS_KEY)] != _TS_KEY:
        return _parsed_type_and_time(text)
    start += len(_TYPE_KEY)
    event_type = text[start : text.find('"', start)]
    try:
        ts = datetime.fromisoformat(text[-_TS_TAIL + 1 : -2]).timestamp()
    except ValueError:
        return _parsed_type_and_time(text)
    return event_type, ts


def _parsed_type_and_time(text: str) -> tuple[str, float | None]:
    try:
        frame = orjson.loads(text)
        event_type, ts = str(frame["type"]), datetime.fromisoformat(frame["ts"]).timestamp()
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return "unknown", None
    return event_type, ts


def event_published(frame: str) -> None:
    """Count an event leaving its publisher (once, in the publishing process)."""
    event_type = frame_type_and_time(frame)[0]
    child = _published.get(event_type)
    if child is None:
        child = _published[event_type] = PUBLISHED.labels(event_type)
    child.inc()


def event_handed_over(outgoing: "Outgoing", subscribers: int) -> None:
    """Count one event handed to `subscribers` local connections, and how late it is."""
    if not subscribers:
        return
    event_type, ts = frame_type_and_time(outgoing.text)
    child = _delivered.get(event_type)
    if child is None:
        child = _delivered[event_type] = DELIVERED.labels(event_type)
    child.inc(subscribers)
    if ts is not None:
        DELIVERY_SECONDS.observe(max(0.0, time.time() - ts))


def connection_opened() -> None:
    CONNECTIONS.inc()


def connection_closed() -> None:
    CONNECTIONS.dec()


def subscribed() -> None:
    SUBSCRIPTIONS.inc()


def unsubscribed() -> None:
    SUBSCRIPTIONS.dec()


def slow_consumer_closed() -> None:
    SLOW_CONSUMER_CLOSES.inc()


def over_budget(*, closed: bool) -> None:
    """A command refused by its connection's budget, or the connection closed for it."""
    if closed:
        BUDGET_CLOSES.inc()
    else:
        rate_limited("connection")


def queues_sample(wires: "Iterable[Wire]") -> None:
    """Record how many frames wait in this process's outgoing queues, and the longest."""
    total = longest = 0
    for wire in wires:
        queued = wire.queued
        total += queued
        longest = max(longest, queued)
    QUEUED_FRAMES.set(total)
    QUEUED_FRAMES_MAX.set(longest)


class Connection(Protocol):
    """What the sampler needs of a server's connection (hub.fanout.LocalConnection)."""

    @property
    def wire(self) -> "Wire": ...


async def queues_sampled(connections: Collection[Connection]) -> None:
    """Sample the queues of a server process's connections for its life (a loop over
    them every HUB_METRICS_SAMPLE_SECONDS, not a count kept on every frame)."""

    async def sample() -> None:
        queues_sample(connection.wire for connection in tuple(connections))

    await every(conf.metrics_sample_interval, sample, "Queue metrics")


def group_commit(writer: str, items: int, seconds: float) -> None:
    GROUP_COMMIT_ITEMS.labels(writer).observe(items)
    GROUP_COMMIT_SECONDS.labels(writer).observe(seconds)


def read_from_log(reason: str, events: int) -> None:
    if events:
        LOG_READS.labels(reason).inc(events)
