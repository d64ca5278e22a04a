"""Publishing events: the durable log (a transactional outbox) and the fast path."""

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, NotRequired, TypedDict

import orjson
from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from conventions.sql import execute_together, placeholders, row_lock, rows_source
from conventions.times import iso_z
from hub import conf, metrics
from hub.fastpath import send_in_order, sender_loop
from hub.models import Event, Topic, new_epoch
from hub.topics import group_name

logger = logging.getLogger(__name__)

# A sync publisher waits this long for its PUBLISH; past it the log tail delivers.
FAST_PATH_TIMEOUT_SECONDS = 5.0


class EventMessage(TypedDict):
    """The channel-layer message that brings one event to each subscribed server process."""

    type: str
    topic: str
    seq: int | None  # None for an ephemeral event
    epoch: str | None  # the topic's, for a durable event
    origin: str  # the deployment that sent it (conf.deployment_id)
    frame: str
    # The topic's next events of the same commit, [seq, frame] in order: one layer message
    # for a batch (a process that ignores it reads them back from the log).
    more: NotRequired[list[tuple[int, str]]]


def event_frame(*, topic: str, event_type: str, data: Any, ts: str, seq: int | None = None) -> str:
    """The one JSON encoding of an event, shared by every subscriber."""
    frame: dict[str, Any] = {"op": "event", "topic": topic}
    if seq is not None:
        frame["seq"] = seq
    frame.update(type=event_type, data=data, ts=ts)
    return orjson.dumps(frame).decode()


def stored_event_frame(topic: str, event: Event) -> str:
    """The frame of an event read back from the log, identical to the live one."""
    return event_frame(
        topic=topic,
        event_type=event.type,
        data=event.data,
        ts=iso_z(event.created_at),
        seq=event.seq,
    )


def topic_get_or_create(*, name: str) -> Topic:
    """The topic's row, made when first subscribed so the epoch a client sees stays fixed."""
    topic, _ = Topic.objects.get_or_create(name=name)
    return topic


def _next_seq(name: str) -> tuple[int, int, str]:
    """Bump the topic's counter; the row lock queues other publishers until we commit.

    Returns the topic's id, the new seq and the topic's epoch.
    """
    table = Topic._meta.db_table
    # The table name is the model's own, never input; values go as parameters.
    bump = (
        f"UPDATE {table} SET last_seq = last_seq + 1, updated_at = %s"  # nosec B608
        " WHERE name = %s RETURNING id, last_seq, epoch"
    )
    with connection.cursor() as cursor:
        cursor.execute(bump, [timezone.now(), name])
        row = cursor.fetchone()
        if row is None:  # first event of the topic: make its row, then bump it
            cursor.execute(
                f"INSERT INTO {table} (name, last_seq, epoch, updated_at) VALUES (%s, 0, %s, %s)"  # nosec B608
                " ON CONFLICT (name) DO NOTHING",
                [name, new_epoch(), timezone.now()],
            )
            cursor.execute(bump, [timezone.now(), name])
            row = cursor.fetchone()
    return row[0], row[1], row[2]


def publish(*, topic: str, event_type: str, data: Any) -> int:
    """Append a durable event to `topic` in the caller's transaction; deliver on commit.

    Returns the event's seq. Nothing is stored or sent if the transaction rolls back.
    """
    return publish_computed(topic=topic, event_type=event_type, compute=lambda: data)


def publish_computed(*, topic: str, event_type: str, compute: Callable[[], Any]) -> int:
    """`publish`, with the data read by `compute` once the topic is locked: a figure
    such as an unread count then reaches subscribers in commit order, never stale."""
    # Inside the caller's transaction no savepoint is needed: if this fails, so does
    # the caller's change (two round trips fewer per event).
    with transaction.atomic(savepoint=False):
        topic_id, seq, epoch = _next_seq(topic)
        # Round-trip through JSON now, so what is stored is exactly what is sent.
        data = orjson.loads(orjson.dumps(compute()))
        created_at = timezone.now()
        Event.objects.create(
            topic_id=topic_id, seq=seq, type=event_type, data=data, created_at=created_at
        )
    frame = event_frame(
        topic=topic, event_type=event_type, data=data, ts=iso_z(created_at), seq=seq
    )
    transaction.on_commit(lambda: _send_after_commit(topic, seq, epoch, frame))
    return seq


def publish_many(
    events: list[tuple[str, str, Any]],
    *,
    counters: dict[str, tuple[int, int, str]] | None = None,
    also: Sequence[tuple[str, list[Any]]] = (),
) -> list[int]:
    """`publish` for many (topic, type, data) at once, in the caller's transaction: each
    topic's counter is locked and bumped once however many of its events there are, and
    all the events are one INSERT. Returns each event's seq, in order; on commit they go
    out in that order. `counters`: what `lock_counters` returned for these topics, when
    the caller had to lock them earlier in the transaction; `also`: the caller's own
    statements (returning nothing) to send in the same round trip."""
    if not events:
        return []
    counters = dict(counters or lock_counters({topic for topic, _, _ in events}))
    created_at = timezone.now()
    ts = iso_z(created_at)
    rows: list[tuple[int, int, str, Any]] = []
    sends: list[tuple[str, str, int, str]] = []
    seqs: list[int] = []
    for topic, event_type, data in events:
        topic_id, last_seq, epoch = counters[topic]
        seq = last_seq + 1
        counters[topic] = (topic_id, seq, epoch)
        data = orjson.loads(orjson.dumps(data))  # what is stored is exactly what is sent
        rows.append((topic_id, seq, event_type, data))
        sends.append((topic, event_frame(topic=topic, event_type=event_type, data=data, ts=ts,
                                         seq=seq), seq, epoch))  # fmt: skip
        seqs.append(seq)
    new_events, event_params = rows_source(EVENT_COLUMNS, rows)
    bumped, bump_params = rows_source(
        [("id", "bigint"), ("last_seq", "bigint")],
        [(topic_id, seq) for topic_id, seq, _ in counters.values()],
    )
    events_table, topics_table = Event._meta.db_table, Topic._meta.db_table
    # Table names are the models' own, never input; values go as parameters.
    execute_together(
        [
            *also,
            (
                f"INSERT INTO {events_table} (topic_id, seq, type, data, created_at)"  # nosec B608
                f" SELECT topic_id, seq, type, data, %s FROM {new_events}",
                [created_at, *event_params],
            ),
            (
                f"UPDATE {topics_table} SET last_seq = v.last_seq, updated_at = %s"  # nosec B608
                f" FROM {bumped} WHERE {topics_table}.id = v.id",
                [created_at, *bump_params],
            ),
        ]
    )
    transaction.on_commit(lambda: _send_after_commit_many(sends))
    return seqs


EVENT_COLUMNS = [("topic_id", "bigint"), ("seq", "bigint"), ("type", "text"), ("data", "jsonb")]


def lock_counters(names: set[str]) -> dict[str, tuple[int, int, str]]:
    """Lock the topics' counter rows, in name order so that two writers never wait on each
    other crosswise, making missing rows; each name's (id, last_seq, epoch)."""
    table = Topic._meta.db_table

    # The table name is the model's own, never input; values go as parameters.
    def lock(count: int) -> str:
        return (
            f"SELECT name, id, last_seq, epoch FROM {table}"  # nosec B608
            f" WHERE name IN ({placeholders(count)}) ORDER BY name{row_lock()}"
        )

    ordered = sorted(names)
    with connection.cursor() as cursor:
        cursor.execute(lock(len(ordered)), ordered)
        found = {name: (topic_id, seq, epoch) for name, topic_id, seq, epoch in cursor.fetchall()}
        missing = [name for name in ordered if name not in found]
        if missing:  # first events of these topics: make their rows, then lock them
            now = timezone.now()
            rows = ", ".join(["(%s, 0, %s, %s)"] * len(missing))
            cursor.execute(
                f"INSERT INTO {table} (name, last_seq, epoch, updated_at) VALUES {rows}"  # nosec B608
                " ON CONFLICT (name) DO NOTHING",
                [x for name in missing for x in (name, new_epoch(), now)],
            )
            cursor.execute(lock(len(missing)), missing)
            found.update(
                (name, (topic_id, seq, epoch)) for name, topic_id, seq, epoch in cursor.fetchall()
            )
    return found


def _send_after_commit_many(sends: list[tuple[str, str, int, str]]) -> None:
    """One layer message per topic for the lot, each topic's events in seq order."""
    grouped: dict[str, EventMessage] = {}
    for topic, frame, seq, epoch in sends:
        metrics.event_published(frame)
        message = grouped.get(topic)
        if message is None:
            grouped[topic] = _event_message(topic, frame, seq, epoch)
        else:
            message.setdefault("more", []).append((seq, frame))
    _hand_over(list(grouped.values()))


def _send_after_commit(topic: str, seq: int, epoch: str, frame: str) -> None:
    metrics.event_published(frame)
    _hand_over([_event_message(topic, frame, seq, epoch)])


def _hand_over(messages: list[EventMessage]) -> None:
    """Send committed events to the server processes, in the order they were committed."""
    try:
        loop = server_loop()
        if loop is not None:
            # Sync code run by the server (a view, a socket `publish` handler): the
            # server's own loop and its layer connection carry it, in hand-over order.
            # The thread does not wait.
            loop.call_soon_threadsafe(send_in_order, loop, messages)
        else:
            # Celery, a shell, a script: this process's long-lived sender loop.
            sender_loop.run(_send_each(messages), FAST_PATH_TIMEOUT_SECONDS)
    except Exception:  # the log has them; each process's tail delivers them
        logger.warning("Fast path failed for %d events; the log tail will deliver them",
                       len(messages))  # fmt: skip


async def _send_each(messages: list[EventMessage]) -> None:
    layer = get_channel_layer()
    for message in messages:
        await layer.group_send(group_name(message["topic"]), message)


def server_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop this thread was called from through sync_to_async, if any."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop: asyncio.AbstractEventLoop | None = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


def _event_message(topic: str, frame: str, seq: int | None, epoch: str | None) -> EventMessage:
    return {
        "type": "hub.event",
        "topic": topic,
        "seq": seq,
        "epoch": epoch,
        "origin": conf.deployment_id(),
        "frame": frame,
    }


async def send_to_processes(
    topic: str, frame: str, seq: int | None = None, epoch: str | None = None
) -> None:
    """One channel-layer message per topic: its members are server processes."""
    await get_channel_layer().group_send(
        group_name(topic), _event_message(topic, frame, seq, epoch)
    )


async def publish_ephemeral(*, topic: str, event_type: str, data: Any) -> None:
    """Typing and presence: never stored, never replayed, no seq."""
    frame = event_frame(topic=topic, event_type=event_type, data=data, ts=iso_z(timezone.now()))
    metrics.event_published(frame)
    try:
        await send_to_processes(topic, frame)
    except Exception:
        logger.warning("Could not send ephemeral %s on %s", event_type, topic)


def stored_events_rewrite(
    *,
    topic: str,
    event_types: Iterable[str],
    where: dict[str, Any],
    rewrite: Callable[[Any], Any],
) -> int:
    """Rewrite the stored data of a topic's events that match `where` (JSON key lookups,
    e.g. `{"id": 5}` or `{"last_message__id": 5}`), so that replays show the rewrite:
    text a person edited or deleted must not be read again from the log. Returns how many."""
    lookups = {f"data__{path}": value for path, value in where.items()}
    rows = list(Event.objects.filter(topic__name=topic, type__in=list(event_types), **lookups))
    for row in rows:
        row.data = orjson.loads(orjson.dumps(rewrite(row.data)))
    Event.objects.bulk_update(rows, ["data"], batch_size=500)
    return len(rows)


def topic_events_forget(*, topic: str) -> int:
    """Delete every stored event of a topic no one can read again (an erased person's own
    `user:` topic). The counter stays, so seqs are never reused. Returns how many."""
    deleted, _ = Event.objects.filter(topic__name=topic).delete()
    return deleted


def events_prune() -> int:
    """Delete events older than the retention period; safe to run twice."""
    cutoff = timezone.now() - timedelta(days=conf.retention_days())
    deleted, _ = Event.objects.filter(created_at__lt=cutoff).delete()
    return deleted
