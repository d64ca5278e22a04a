"""The one WebSocket endpoint, `/ws/v1/`: parses frames and dispatches ops."""

import asyncio
import logging
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.services import token_authenticate
from hub import protocol
from hub.protocol import Command, CommandError, FrameError

logger = logging.getLogger(__name__)

AUTH_DEADLINE_SECONDS = 10.0


class HubConsumer(AsyncWebsocketConsumer):
    """One client connection: many topics, one socket."""

    # Fan-out is per process (see hub.fanout), so a connection needs no layer channel.
    channel_layer_alias = "__no_layer__"

    async def connect(self) -> None:
        self.connection_id = uuid.uuid4().hex
        self.user = None
        self.closed = False
        await self.accept()
        session_user = self.scope.get("user")
        if session_user is not None and session_user.is_authenticated:
            self.user = session_user
        else:
            self.auth_deadline = asyncio.create_task(self._close_unless_authenticated())

    async def _close_unless_authenticated(self) -> None:
        await asyncio.sleep(AUTH_DEADLINE_SECONDS)
        if self.user is None and not self.closed:
            await self.close(code=protocol.CLOSE_UNAUTHORIZED)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        deadline = getattr(self, "auth_deadline", None)
        if deadline is not None:
            deadline.cancel()

    async def close(self, code=None, reason=None) -> None:
        self.closed = True
        await super().close(code=code, reason=reason)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.closed:
            return
        if text_data is None:
            await self.close(code=protocol.CLOSE_UNSUPPORTED_DATA)
            return
        if len(text_data) * 4 > protocol.MAX_FRAME_BYTES and (
            len(text_data.encode()) > protocol.MAX_FRAME_BYTES
        ):
            await self.close(code=protocol.CLOSE_TOO_BIG)
            return
        try:
            command = protocol.parse_frame(text_data)
            reply = await self.handle(command)
            if reply is not None:
                await self.send(text_data=reply)
        except FrameError as exc:
            await self.send(text_data=protocol.error_frame(str(exc)))
        except CommandError as exc:
            await self.send(
                text_data=protocol.reply_error(exc.ref, exc.code, exc.message, **exc.extra)
            )
        except Exception:
            logger.exception("Unexpected error handling a frame")
            await self.send(
                text_data=protocol.reply_error(
                    _ref_of(text_data), "internal", "Something went wrong on our side."
                )
            )

    async def handle(self, command: Command) -> str | None:
        """Run one command and return its encoded reply (None when it answered itself)."""
        if command.op == "ping":
            return protocol.reply_ok(command.ref)
        if command.op == "auth":
            return await self.op_auth(command)
        if self.user is None:
            raise CommandError(command.op, command.ref, "unauthorized", "Authenticate first.")
        handler = getattr(self, f"op_{command.op}", None)
        if handler is None:
            raise CommandError(
                command.op, command.ref, "bad_request", f"Unknown op {command.op!r}."
            )
        return await handler(command)

    async def op_auth(self, command: Command) -> str | None:
        token = command.body.get("token")
        if self.user is not None:
            if not isinstance(token, str):
                return protocol.reply_ok(command.ref, self._auth_data())
            user = await database_sync_to_async(token_authenticate)(token=token)
            if user is None or user.pk != self.user.pk:
                raise CommandError(
                    "auth", command.ref, "bad_request", "This connection is already authenticated."
                )
            return protocol.reply_ok(command.ref, self._auth_data())
        user = None
        if isinstance(token, str):
            user = await database_sync_to_async(token_authenticate)(token=token)
        if user is None:
            await self.send(
                text_data=protocol.reply_error(command.ref, "unauthorized", "Invalid token.")
            )
            await self.close(code=protocol.CLOSE_UNAUTHORIZED)
            return None
        self.user = user
        self.auth_deadline.cancel()
        return protocol.reply_ok(command.ref, self._auth_data())

    def _auth_data(self) -> dict:
        return {"user_id": self.user.pk, "connection_id": self.connection_id}


def _ref_of(text: str):
    try:
        return protocol.parse_frame(text).ref
    except Exception:
        return None
