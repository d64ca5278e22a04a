"""Chat as the outside world sees it: the objects REST answers with and events carry.

One module, so that an event's data is the resource exactly as REST returns it.
It only reads what it is given: no queries, and nothing of ours imports back.
"""

from datetime import datetime

from chat.models import Conversation, Message
from conventions.times import iso_z


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


def read_data(*, user_id: int, message_id: int) -> dict:
    """Where a participant's read marker now stands."""
    return {"user_id": user_id, "message_id": message_id}


def lesson_data(
    booking_id: int, status: str, start: datetime, end: datetime, service_name: str
) -> dict:
    """A lesson of the pair as the chat pane lists it; positional, to take a `values_list` row."""
    return {
        "id": booking_id,
        "status": status,
        "start": iso_z(start),
        "end": iso_z(end),
        "service": service_name,
    }


def conversation_data(
    conversation: Conversation,
    *,
    marker: int,
    unread: int,
    last_message: Message | None,
    lessons: list[dict],
) -> dict:
    """The conversation as one participant sees it: their read marker and unread count.

    Built from parts the caller already holds (student and instructor loaded).
    """
    return {
        "id": conversation.pk,
        "student": {"id": conversation.student_id, "name": conversation.student.name},
        "instructor": {"id": conversation.instructor_id, "name": conversation.instructor.name},
        "created_at": iso_z(conversation.created_at),
        "updated_at": iso_z(last_message.created_at if last_message else conversation.updated_at),
        "unread_count": unread,
        "last_read_message_id": marker,
        "last_message": message_data(last_message) if last_message else None,
        "bookings": lessons,
    }


def message_data_erased(data: dict) -> dict:
    """A stored message object once its author is erased: deleted, with no body."""
    return {**data, "body": None, "deleted": True}


def conversation_data_erased(data: dict, *, user_id: int, name: str) -> dict:
    """A stored conversation object once `user_id` (one of its two people) is erased: their
    new name, and their last message, if it is the last, deleted."""
    side = "student" if data["student"]["id"] == user_id else "instructor"
    data = {**data, side: {"id": user_id, "name": name}}
    last = data.get("last_message")
    if last and last["sender_id"] == user_id:
        data["last_message"] = message_data_erased(last)
    return data


def erased_data(*, user_id: int, name: str) -> dict:
    """What `participant.erased` says: who, and the name shown for them from now on."""
    return {"user_id": user_id, "name": name}
