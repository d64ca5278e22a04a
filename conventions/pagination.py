"""Opaque list cursors (`?cursor=`), shared by every app's list endpoints."""

import base64
import binascii
from datetime import datetime

import orjson

from conventions.errors import Invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def cursor_encode(position: list) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def cursor_decode(cursor: str, *, length: int) -> list:
    """The position a cursor points after; a cursor we did not make is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        position = None
    if not isinstance(position, list) or len(position) != length:
        raise Invalid("This cursor is not valid.", details={"cursor": "invalid"})
    return position


def moment_cursor_encode(moment: datetime, pk: int) -> str:
    """A cursor for lists ordered by a time and then an id."""
    return cursor_encode([moment.isoformat(), pk])


def moment_cursor_decode(cursor: str) -> tuple[datetime, int]:
    moment_iso, pk = cursor_decode(cursor, length=2)
    try:
        return datetime.fromisoformat(moment_iso), int(pk)
    except (TypeError, ValueError):
        raise Invalid("This cursor is not valid.", details={"cursor": "invalid"}) from None
