"""`conversation:{id}`: its two participants only, with presence and five publish types."""

import asyncio

from django.conf import settings

from chat import services
from chat.selectors import is_participant
from chat.sending import SendRequest, Sent, messages_send
from chat.shapes import message_data
from conventions.errors import RateLimited
from conventions.ratelimit import Rate, take
from hub.dbthreads import in_db_thread
from hub.groupcommit import GroupCommit
from hub.services import publish_ephemeral
from hub.topics import TopicFamily, register_family


def may_join(user, conversation_id: int) -> bool:
    return is_participant(user_id=user.pk, conversation_id=conversation_id)


# Sends that arrive while a batch is being stored are stored together in the next one.
SENDS: GroupCommit[SendRequest, Sent] = GroupCommit("chat.send", messages_send)


async def send(*, user, object_id, data, topic) -> dict:
    message, _ = await SENDS.submit(
        SendRequest(user, object_id, data.get("body"), data.get("client_id"))
    )
    return {"message": message_data(message)}


def edit(*, user, object_id, data, topic) -> dict:
    message = services.message_edit(
        user=user, conversation_id=object_id, message_id=data.get("message_id"),
        body=data.get("body"),
    )  # fmt: skip
    return {"message": message_data(message)}


def delete(*, user, object_id, data, topic) -> dict:
    services.message_delete(user=user, conversation_id=object_id, message_id=data.get("message_id"))
    return {}


def read(*, user, object_id, data, topic) -> dict:
    services.read_mark(user=user, conversation_id=object_id, message_id=data.get("message_id"))
    return {}


async def typing(*, user, object_id, data, topic) -> dict:
    """Ephemeral; more than one per interval per user and conversation is dropped silently."""
    rate = Rate(per_second=1 / settings.CHAT_TYPING_INTERVAL_SECONDS, burst=1)
    try:
        await asyncio.to_thread(take, f"chat.typing:{user.pk}:{object_id}", rate)
    except RateLimited:
        return {}
    await publish_ephemeral(topic=topic, event_type="typing", data={"user_id": user.pk})
    return {}


# Edits, deletes and reads run on any worker thread (hub.dbthreads), not the one shared
# thread, so one conversation's round trips do not queue behind every other's.
CONVERSATION = TopicFamily(
    name="conversation",
    authorize=may_join,
    handlers={
        "message.send": send,
        "message.edit": in_db_thread(edit),
        "message.delete": in_db_thread(delete),
        "read": in_db_thread(read),
        "typing": typing,
    },
    presence=True,
)


def register() -> None:
    register_family(CONVERSATION)
