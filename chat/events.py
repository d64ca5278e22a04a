"""The live events of chat: each carries a shape from `chat.shapes`.

Called by services inside their transaction, after the change.
"""

from chat.models import Conversation, Message
from chat.selectors import pair_lessons
from chat.shapes import (
    conversation_data,
    conversation_data_erased,
    erased_data,
    message_data,
    message_data_erased,
    read_data,
)
from hub.services import publish, stored_events_rewrite
from hub.topics import user_topic


def conversation_topic(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def message_event(message: Message, event_type: str) -> None:
    publish(
        topic=conversation_topic(message.conversation_id),
        event_type=event_type,
        data=message_data(message),
    )


MESSAGE_EVENTS = ("message.created", "message.edited", "message.deleted")


def message_history_rewrite(message: Message, *, participant_ids: tuple[int, int]) -> None:
    """After an edit or a delete, no stored event may still hold the old text: the
    message's own events and both inboxes' `last_message` now show it as it is."""
    current = message_data(message)
    stored_events_rewrite(
        topic=conversation_topic(message.conversation_id),
        event_types=MESSAGE_EVENTS,
        where={"id": message.pk},
        rewrite=lambda data: current,
    )
    for user_id in participant_ids:
        stored_events_rewrite(
            topic=user_topic(user_id),
            event_types=("conversation.updated",),
            where={"last_message__id": message.pk},
            rewrite=lambda data: {**data, "last_message": current},
        )


def sender_history_erase(
    conversation: Conversation, *, user_id: int, name: str, other_id: int
) -> None:
    """After a person's erasure no stored event holds their words: their messages' events
    show them deleted, and the other side's inbox rows show the new name. (Their own
    `user:` topic is forgotten whole.)"""
    stored_events_rewrite(
        topic=conversation_topic(conversation.pk),
        event_types=MESSAGE_EVENTS,
        where={"sender_id": user_id},
        rewrite=message_data_erased,
    )
    stored_events_rewrite(
        topic=user_topic(other_id),
        event_types=("conversation.updated",),
        where={"id": conversation.pk},
        rewrite=lambda data: conversation_data_erased(data, user_id=user_id, name=name),
    )


def participant_erased(conversation: Conversation, *, user_id: int, name: str) -> None:
    """Open chat panes drop the erased person's texts and show their new name."""
    publish(
        topic=conversation_topic(conversation.pk),
        event_type="participant.erased",
        data=erased_data(user_id=user_id, name=name),
    )


def read_event(*, conversation_id: int, user_id: int, message_id: int) -> None:
    data = read_data(user_id=user_id, message_id=message_id)
    publish(topic=conversation_topic(conversation_id), event_type="read", data=data)


def conversation_updated(
    conversation: Conversation,
    *,
    for_user_id: int,
    marker: int,
    unread: int,
    last_message: Message | None,
) -> None:
    """The inbox row of one participant, sent to that participant's own topic."""
    data = conversation_data(
        conversation,
        marker=marker,
        unread=unread,
        last_message=last_message,
        lessons=pair_lessons(conversation),
    )
    publish(topic=user_topic(for_user_id), event_type="conversation.updated", data=data)
