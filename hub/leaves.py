"""Presence leaves announced after a short grace, so that a quick rejoin (a reload, a
flapping client) is not told to everyone as a leave and a join."""

import asyncio
from typing import Protocol

from hub import conf
from hub.services import publish_ephemeral


class Members(Protocol):
    async def members(self, topic: str) -> list[int]: ...


class PendingLeaves:
    """One process's leaves waiting out their grace, and the announcements under way."""

    def __init__(self, presence: Members):
        self._presence = presence
        self._pending: dict[tuple[str, int], asyncio.TimerHandle] = {}
        self._announcing: set[asyncio.Task[None]] = set()

    def later(self, topic: str, user_id: int) -> None:
        """Announce `user_id` leaving `topic` once the grace has passed."""
        self.cancel(topic, user_id)
        self._pending[(topic, user_id)] = asyncio.get_running_loop().call_later(
            conf.presence_leave_grace(), self._start, topic, user_id
        )

    def cancel(self, topic: str, user_id: int) -> bool:
        """Forget a leave not yet announced; True when there was one."""
        pending = self._pending.pop((topic, user_id), None)
        if pending is None:
            return False
        pending.cancel()
        return True

    def _start(self, topic: str, user_id: int) -> None:
        task = asyncio.get_running_loop().create_task(self._announce(topic, user_id))
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)

    async def _announce(self, topic: str, user_id: int) -> None:
        self._pending.pop((topic, user_id), None)
        if user_id not in await self._presence.members(topic):  # not back on another process
            await publish_ephemeral(
                topic=topic, event_type="presence.leave", data={"user_id": user_id}
            )
