"""Publishing events: the durable log (a transactional outbox) and the fast path."""

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypedDict

import orjson
from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from conventions.times import iso_z
from hub import conf, metrics
from hub.fastpath import sender_loop
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


def _send_after_commit(topic: str, seq: int, epoch: str, frame: str) -> None:
    metrics.event_published(frame)
    try:
        loop = server_loop()
        if loop is not None:
            # Sync code run by the server (a view, a socket `publish` handler): the
            # server's own loop and its layer connection carry it. The thread does not
            # wait; the loop runs these in the order they were handed over.
            future = asyncio.run_coroutine_threadsafe(
                send_to_processes(topic, frame, seq, epoch), loop
            )
            future.add_done_callback(lambda done: _log_failure(done, topic, seq))
        else:
            # Celery, a shell, a script: this process's long-lived sender loop.
            sender_loop.run(send_to_processes(topic, frame, seq, epoch), FAST_PATH_TIMEOUT_SECONDS)
    except Exception:  # the log has it; each process's tail delivers it
        logger.warning("Fast path failed for %s#%s; the log tail will deliver it", topic, seq)


def _log_failure(done: concurrent.futures.Future[None], topic: str, seq: int) -> None:
    if not done.cancelled() and done.exception() is not None:
        logger.warning("Fast path failed for %s#%s; the log tail will deliver it", topic, seq)


def server_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop this thread was called from through sync_to_async, if any."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop: asyncio.AbstractEventLoop | None = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


async def send_to_processes(
    topic: str, frame: str, seq: int | None = None, epoch: str | None = None
) -> None:
    """One channel-layer message per topic: its members are server processes."""
    layer = get_channel_layer()
    message: EventMessage = {
        "type": "hub.event",
        "topic": topic,
        "seq": seq,
        "epoch": epoch,
        "origin": conf.deployment_id(),
        "frame": frame,
    }
    await layer.group_send(group_name(topic), message)


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
