"""Open sockets end when their token is revoked or their user deactivated, on every process."""

import logging
from collections.abc import Iterable
from typing import Protocol

from channels.db import database_sync_to_async

from accounts.models import ApiToken, User
from accounts.services import tokens_still_valid
from hub.protocol import CLOSE_UNAUTHORIZED

logger = logging.getLogger(__name__)


class Revocable(Protocol):
    """What the sweep needs of an open socket (hub.consumer.HubConsumer)."""

    @property
    def connection_id(self) -> str: ...

    @property
    def user(self) -> User | None: ...

    async def close(self, code: int | None = None) -> None: ...


async def close_revoked(connections: Iterable[Revocable]) -> None:
    """Close (4001) sockets whose token was revoked or whose user was deactivated.

    One query per process per presence interval, so a logout or a blocked
    account ends its open sockets within about 20 s, on every process.
    """
    by_token: dict[int, list[Revocable]] = {}
    for connection in connections:
        api_token: ApiToken | None = getattr(connection.user, "api_token", None)
        if api_token is not None:
            by_token.setdefault(api_token.pk, []).append(connection)
    if not by_token:
        return
    valid = await database_sync_to_async(tokens_still_valid)(token_ids=set(by_token))
    for token_id, token_connections in by_token.items():
        if token_id not in valid:
            for connection in token_connections:
                logger.info("Closing %s: its token is no longer valid", connection.connection_id)
                await connection.close(code=CLOSE_UNAUTHORIZED)
