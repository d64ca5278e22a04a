"""Messages and conversations as REST returns them, and the events built from them."""

from chat.models import Conversation, Message
from conventions.times import iso_z
from hub.services import publish
from hub.topics import user_topic


def conversation_topic(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def message_data(message: Message) -> dict:
    """A deleted message keeps its place and its id, but not its body."""
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "sender_id": message.sender_id,
        "body": None if message.deleted else message.body,
        "client_id": message.client_id,
        "created_at": iso_z(message.created_at),
        "edited_at": iso_z(message.edited_at) if message.edited_at else None,
        "deleted": message.deleted,
    }


def message_event(message: Message, type: str) -> None:
    publish(
        topic=conversation_topic(message.conversation_id),
        event_type=type,
        data=message_data(message),
    )


def read_event(*, conversation_id: int, user_id: int, message_id: int) -> None:
    publish(
        topic=conversation_topic(conversation_id),
        event_type="read",
        data={"user_id": user_id, "message_id": message_id},
    )


def conversation_updated(
    conversation: Conversation,
    *,
    for_user_id: int,
    marker: int,
    unread: int,
    last_message: Message | None,
) -> None:
    """The inbox row of one participant, sent to that participant's own topic."""
    from chat.selectors import conversation_view

    data = conversation_view(conversation, marker=marker, unread=unread, last_message=last_message)
    publish(topic=user_topic(for_user_id), event_type="conversation.updated", data=data)
