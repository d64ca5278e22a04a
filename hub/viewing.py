"""Who has a topic open right now, asked by sync code the server runs (a view, a socket
`publish` handler): "is the recipient looking at this conversation?"."""

import asyncio
import logging

from hub.fanout import Fanout
from hub.services import server_loop

logger = logging.getLogger(__name__)

# Presence is a hint: past this, answer "nobody" rather than hold the sender.
ASK_TIMEOUT_SECONDS = 0.5


def users_viewing(topic: str) -> set[int]:
    """The users present on `topic` (a presence topic), on any process; nobody when asked
    outside a server (Celery, a shell) or when presence cannot answer in time."""
    loop = server_loop()
    fanout = Fanout.of_loop(loop) if loop is not None else None
    if loop is None or fanout is None:
        return set()
    future = asyncio.run_coroutine_threadsafe(fanout.presence.members(topic), loop)
    try:
        return set(future.result(timeout=ASK_TIMEOUT_SECONDS))
    except Exception as error:  # a hint only: the notification is made anyway
        future.cancel()
        logger.warning("Presence could not say who views %s: %s", topic, error)
        return set()


def users_viewing_each(topics: set[str]) -> dict[str, set[int]]:
    """`users_viewing` for several topics, asked together: one wait, not one per topic."""
    loop = server_loop()
    fanout = Fanout.of_loop(loop) if loop is not None else None
    if loop is None or fanout is None or not topics:
        return {}
    ordered = sorted(topics)

    future = asyncio.run_coroutine_threadsafe(fanout.presence.members_each(ordered), loop)
    try:
        answers = future.result(timeout=ASK_TIMEOUT_SECONDS)
    except Exception as error:  # a hint only: the notifications are made anyway
        future.cancel()
        logger.warning("Presence could not say who views %d topics: %s", len(ordered), error)
        return {}
    return {topic: set(members) for topic, members in zip(ordered, answers, strict=True)}
