"""The REST contract of chat."""

from ninja import Schema
from pydantic import Field

from conventions.types import ObjectId


class ConversationIn(Schema):
    participant_id: ObjectId


class MessageIn(Schema):
    body: str = Field(max_length=20_000)  # trimmed and held to 4000 by the service
    client_id: str = Field(min_length=1, max_length=64)


class MessageEditIn(Schema):
    body: str = Field(max_length=20_000)


class ReadIn(Schema):
    message_id: ObjectId


class PersonOut(Schema):
    id: int
    name: str


class MessageOut(Schema):
    id: int
    conversation_id: int
    sender_id: int
    body: str | None
    client_id: str
    created_at: str
    edited_at: str | None
    deleted: bool


class LessonOut(Schema):
    id: int
    status: str
    start: str
    end: str
    service: str


class ConversationOut(Schema):
    id: int
    student: PersonOut
    instructor: PersonOut
    created_at: str
    updated_at: str
    unread_count: int
    last_read_message_id: int
    last_message: MessageOut | None
    bookings: list[LessonOut]


class ConversationPage(Schema):
    items: list[ConversationOut]
    next_cursor: str | None
    unread_total: int


class MessagePage(Schema):
    items: list[MessageOut]
    has_more: bool
