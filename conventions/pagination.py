"""Opaque list cursors (`?cursor=`), shared by every app's list endpoints.

A cursor is the position a page ended at, JSON in URL-safe base64. Whatever a
client sends back is checked for the exact shape we make, so a forged or mangled
cursor is a 422, never an error deep inside a query.
"""

import base64
import binascii
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

import orjson
from django.db.models import Model, Q, QuerySet
from ninja import Query

from conventions.errors import Invalid
from conventions.types import EARLIEST, LATEST, MAX_ID

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# `?limit=` of every list endpoint.
Limit = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


def _invalid() -> Invalid:
    return Invalid("This cursor is not valid.", details={"cursor": "invalid"})


def _encode(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def _decode(cursor: str, *, length: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise _invalid() from None
    if not isinstance(position, list) or len(position) != length:
        raise _invalid()
    return position


def _object_id(value: Any) -> int:
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise _invalid()
    return value


def _moment(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise _invalid()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid() from None
    if moment.tzinfo is None or not EARLIEST <= moment.date() <= LATEST:
        raise _invalid()
    return moment


def id_cursor_encode(pk: int) -> str:
    """A cursor for lists ordered by id."""
    return _encode([pk])


def id_cursor_decode(cursor: str) -> int:
    (pk,) = _decode(cursor, length=1)
    return _object_id(pk)


def ranked_cursor_encode(rank: int, pk: int) -> str:
    """A cursor for lists ordered by a small rank (0 first, e.g. unread before read), then
    an id, newest first."""
    return _encode([rank, pk])


def ranked_cursor_decode(cursor: str, *, ranks: int) -> tuple[int, int]:
    rank, pk = _decode(cursor, length=2)
    if type(rank) is not int or not 0 <= rank < ranks:
        raise _invalid()
    return rank, _object_id(pk)


def moment_cursor_encode(moment: datetime, pk: int) -> str:
    """A cursor for lists ordered by a time and then an id."""
    return _encode([moment.isoformat(), pk])


def moment_cursor_decode(cursor: str) -> tuple[datetime, int]:
    moment_iso, pk = _decode(cursor, length=2)
    return _moment(moment_iso), _object_id(pk)


Row = TypeVar("Row", bound=Model)


def moment_page(
    rows: QuerySet[Row],
    *,
    cursor: str | None,
    limit: int,
    moment: str,
    pk: str = "pk",
    newest_first: bool,
) -> tuple[list[Row], str | None]:
    """One page of a list ordered by a time, then an id (keyset pagination): stable while
    rows are added, and as cheap on the last page as on the first.

    `moment` and `pk` are field paths (`conversation__updated_at`), read back from the
    page's last row to make the next cursor.
    """
    order = (f"-{moment}", f"-{pk}") if newest_first else (moment, pk)
    rows = rows.order_by(*order)
    if cursor:
        at, last_id = moment_cursor_decode(cursor)
        beyond = "lt" if newest_first else "gt"
        rows = rows.filter(
            Q(**{f"{moment}__{beyond}": at}) | Q(**{moment: at, f"{pk}__{beyond}": last_id})
        )
    page = list(rows[: limit + 1])
    if len(page) <= limit:
        return page, None
    last = page[limit - 1]
    read = attrgetter(moment.replace("__", ".")), attrgetter(pk.replace("__", "."))
    return page[:limit], moment_cursor_encode(read[0](last), read[1](last))
