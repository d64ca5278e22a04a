"""Reads of the durable event log."""

from dataclasses import dataclass

from hub import conf
from hub.models import Event, Topic


@dataclass(frozen=True)
class Replay:
    seq: int
    epoch: str
    recovered: bool
    events: list[Event]


def events_between(*, topic_id: int, after: int, upto: int) -> list[Event]:
    """Events with after < seq <= upto, oldest first."""
    return list(
        Event.objects.filter(topic_id=topic_id, seq__gt=after, seq__lte=upto).order_by("seq")
    )


def replay_since(*, name: str, since: int | None, epoch: str | None) -> Replay:
    """The topic's position and, when the client can resume, exactly what it missed.

    Events are read up to the position read first, so anything committed in
    between arrives live and is never sent twice. Subscribing made the topic's row.
    """
    topic = Topic.objects.get(name=name)
    if since is None:
        return Replay(topic.last_seq, topic.epoch, False, [])
    missed = topic.last_seq - since
    if epoch != topic.epoch or missed < 0 or missed > conf.replay_limit():
        return Replay(topic.last_seq, topic.epoch, False, [])
    events = events_between(topic_id=topic.pk, after=since, upto=topic.last_seq)
    if len(events) != missed:  # some were pruned
        return Replay(topic.last_seq, topic.epoch, False, [])
    return Replay(topic.last_seq, topic.epoch, True, events)


def replay_from_position(
    *, topic_id: int, seq: int, topic_epoch: str, since: int | None, epoch: str | None
) -> Replay | None:
    """What a subscribe at this process's delivered position replays, without the topic row.

    None when the log must decide (the client saw more than this process delivered);
    events are read only when something was missed. Runs on a worker thread.
    """
    if since is None or epoch != topic_epoch:
        return Replay(seq, topic_epoch, False, [])
    if since > seq:
        return None
    missed = seq - since
    if missed > conf.replay_limit():
        return Replay(seq, topic_epoch, False, [])
    events = events_between(topic_id=topic_id, after=since, upto=seq) if missed else []
    if len(events) != missed:  # some were pruned
        return Replay(seq, topic_epoch, False, [])
    return Replay(seq, topic_epoch, True, events)


def topic_positions(names: list[str]) -> dict[str, tuple[int, int]]:
    """name -> (topic id, last_seq) for the topics that exist."""
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(names), 500):
        rows = Topic.objects.filter(name__in=names[start : start + 500]).values_list(
            "name", "pk", "last_seq"
        )
        for name, pk, last_seq in rows:
            found[name] = (pk, last_seq)
    return found
