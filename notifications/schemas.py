from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import StrictBool

from conventions.types import ObjectId


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

    ids: list[ObjectId] | None = None
    up_to: ObjectId | None = None


class NotificationSettingsIO(Schema):
    """Per kind, whether it is also e-mailed; in-app notifications are always kept."""

    email: dict[str, StrictBool]
