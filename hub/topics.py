"""The topic registry: domain apps register the topic families they own.

A family has a name (the part before the colon), a rule for who may subscribe,
optional handlers for the `publish` types it accepts, and whether it tracks
presence. The hub owns `user:{id}`; it never imports a domain app.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conventions.errors import BadRequest, NotFound

TOPIC_NAME = re.compile(r"([a-z][a-z_]{0,30}):([1-9][0-9]{0,17})")

# authorize(user, object_id) -> bool; runs in a worker thread and may use the ORM.
Authorizer = Callable[[Any, int], bool]
# handler(user=..., object_id=..., data=..., topic=...) -> reply data; sync (ORM) or async.
PublishHandler = Callable[..., Any]


@dataclass(frozen=True)
class TopicFamily:
    name: str
    authorize: Authorizer
    handlers: dict[str, PublishHandler] = field(default_factory=dict)
    presence: bool = False


_families: dict[str, TopicFamily] = {}


def register_family(family: TopicFamily) -> TopicFamily:
    """Called from a domain app's `ready()`; registering a name twice replaces it."""
    _families[family.name] = family
    return family


def unregister_family(name: str) -> None:
    _families.pop(name, None)


def resolve(topic: Any) -> tuple[TopicFamily, int]:
    """Map a topic name to its family and object id, or refuse it."""
    if not isinstance(topic, str):
        raise BadRequest("`topic` must be a string like `user:42`.")
    match = TOPIC_NAME.fullmatch(topic)  # the whole name: `$` would allow a final newline
    if match is None:
        raise BadRequest("A topic is `family:id` with a positive integer id.")
    family = _families.get(match.group(1))
    if family is None:
        raise NotFound(f"No topic family {match.group(1)!r}.")
    return family, int(match.group(2))


def group_name(topic: str) -> str:
    """The channel-layer group of a topic (group names may not contain colons)."""
    return "hub.topic." + topic.replace(":", ".")


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


register_family(TopicFamily(name="user", authorize=lambda user, object_id: user.pk == object_id))
