"""Open sockets end when their token or session stops being valid (revoked, expired,
logged out, a password change, a deactivated user), on every process."""

import logging
from collections.abc import Iterable
from typing import Protocol

from channels.db import database_sync_to_async

from accounts.models import ApiToken, User
from accounts.selectors import sessions_still_valid
from accounts.services import tokens_still_valid
from hub.protocol import CLOSE_UNAUTHORIZED

logger = logging.getLogger(__name__)


class Revocable(Protocol):
    """What the sweep needs of an open socket (hub.consumer.HubConsumer)."""

    @property
    def connection_id(self) -> str: ...

    @property
    def user(self) -> User | None: ...

    @property
    def session_key(self) -> str | None: ...

    async def close(self, code: int | None = None) -> None: ...


async def close_revoked(connections: Iterable[Revocable]) -> None:
    """Close (4001) sockets whose token or session is no longer valid.

    A couple of queries per process per presence interval, so a logout, a password
    change or a blocked account ends its open sockets within about 20 s, everywhere.
    """
    by_token: dict[int, list[Revocable]] = {}
    by_session: dict[str, list[Revocable]] = {}
    session_users: dict[str, int] = {}
    for connection in connections:
        api_token: ApiToken | None = getattr(connection.user, "api_token", None)
        if api_token is not None:
            by_token.setdefault(api_token.pk, []).append(connection)
        elif connection.session_key is not None and connection.user is not None:
            by_session.setdefault(connection.session_key, []).append(connection)
            session_users[connection.session_key] = connection.user.pk
    ended: list[Revocable] = []
    if by_token:
        valid = await database_sync_to_async(tokens_still_valid)(token_ids=set(by_token))
        ended += [c for key, group in by_token.items() if key not in valid for c in group]
    if by_session:
        live = await database_sync_to_async(sessions_still_valid)(sessions=session_users)
        ended += [c for key, group in by_session.items() if key not in live for c in group]
    for connection in ended:
        logger.info("Closing %s: it is no longer signed in", connection.connection_id)
        await connection.close(code=CLOSE_UNAUTHORIZED)
