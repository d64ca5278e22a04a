from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt

from conventions.types import MAX_ID

# An id as JSON writes it: a number, never a string that looks like one.
StrictId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class NotificationOut(Schema):
    id: int
    kind: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None
    unread_count: int


class ReadIn(Schema):
    """Either some ids, or every notification up to (and including) one id."""

    ids: list[StrictId] | None = None
    up_to: StrictId | None = None


class NotificationSettingsIO(Schema):
    """Per kind, whether it is also e-mailed; in-app notifications are always kept."""

    email: dict[str, StrictBool]
