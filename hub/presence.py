"""Who has a topic open, counted per user rather than per tab.

Each connection is an entry `user_id:connection_id` with an expiry that its
server process renews; a process that dies stops renewing, its entries expire,
and the next sweep announces the users who are gone. With Redis the entries are
a sorted set per topic (score = expiry), shared by every server process; in the
embedded mode the one process keeps them in memory.
"""

import logging
import time
from collections import defaultdict
from typing import cast

from redis import RedisError
from redis import asyncio as aioredis
from redis.typing import EncodableT

from hub import conf

# Each script returns 1 when the change makes the user appear or disappear.
JOIN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local prefix = ARGV[1] .. ':'
local present = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, #prefix) == prefix then present = 1 break end
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1] .. ':' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1 - present
"""
LEAVE = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1] .. ':' .. ARGV[2])
if removed == 0 then return 0 end
local prefix = ARGV[1] .. ':'
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], '+inf')) do
  if string.sub(member, 1, #prefix) == prefix then return 0 end
end
return 1
"""
SWEEP = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #stale == 0 then return {} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local live = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  live[string.match(member, '^([^:]+):')] = true
end
local gone, seen = {}, {}
for _, member in ipairs(stale) do
  local user = string.match(member, '^([^:]+):')
  if not live[user] and not seen[user] then seen[user] = true table.insert(gone, user) end
end
return gone
"""


logger = logging.getLogger(__name__)


def _key(topic: str) -> str:
    return f"{conf.key_prefix()}:presence:{topic}"


class RedisPresence:
    def __init__(self, url: str, ttl: float):
        self.redis = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.ttl = ttl
        self._join = self.redis.register_script(JOIN)
        self._leave = self.redis.register_script(LEAVE)
        self._sweep = self.redis.register_script(SWEEP)

    async def join(self, topic: str, user_id: int, connection_id: str) -> bool:
        """Record the entry; with Redis away, a subscribe still succeeds (the next
        renewal writes the entry) and no join is announced."""
        now = time.time()
        args: list[EncodableT] = [user_id, connection_id, now, now + self.ttl, int(self.ttl * 2000)]
        try:
            return bool(await self._join(keys=[_key(topic)], args=args))
        except RedisError as exc:
            logger.warning("Presence unavailable joining %s: %s", topic, exc)
            return False

    async def leave(self, topic: str, user_id: int, connection_id: str) -> bool:
        args: list[EncodableT] = [user_id, connection_id, time.time()]
        return bool(await self._leave(keys=[_key(topic)], args=args))

    async def members(self, topic: str) -> list[int]:
        """Who is present; nobody known while Redis is away (a cache, never required)."""
        try:
            # Members only (no scores) and undecoded: the union redis-py declares is bytes.
            entries = cast(
                list[bytes], await self.redis.zrangebyscore(_key(topic), time.time(), "+inf")
            )
        except RedisError as exc:
            logger.warning("Presence unavailable listing %s: %s", topic, exc)
            return []
        return sorted({int(entry.split(b":", 1)[0]) for entry in entries})

    async def members_each(self, topics: list[str]) -> list[list[int]]:
        """`members` of several topics in one round trip."""
        now = time.time()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for topic in topics:
                    pipe.zrangebyscore(_key(topic), now, "+inf")
                answers = cast(list[list[bytes]], await pipe.execute())
        except RedisError as exc:
            logger.warning("Presence unavailable listing %d topics: %s", len(topics), exc)
            return [[] for _ in topics]
        return [sorted({int(e.split(b":", 1)[0]) for e in entries}) for entries in answers]

    async def renew(self, entries: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
        """Push back the expiry of entries that exist; return those Redis no longer has
        (a restart empties it, a join may have failed while it was away)."""
        expiry = time.time() + self.ttl
        async with self.redis.pipeline(transaction=False) as pipe:
            for topic, user_id, connection_id in entries:
                pipe.zadd(_key(topic), {f"{user_id}:{connection_id}": expiry}, xx=True, ch=True)
                pipe.pexpire(_key(topic), int(self.ttl * 2000))
            results = await pipe.execute()
        return [entry for entry, changed in zip(entries, results[::2], strict=True) if not changed]

    async def restore(self, entries: list[tuple[str, int, str]]) -> None:
        """Write again entries Redis lost. The caller passes only those its connections
        still hold, so a leave that raced the renewal is not undone."""
        expiry = time.time() + self.ttl
        async with self.redis.pipeline(transaction=False) as pipe:
            for topic, user_id, connection_id in entries:
                pipe.zadd(_key(topic), {f"{user_id}:{connection_id}": expiry})
                pipe.pexpire(_key(topic), int(self.ttl * 2000))
            await pipe.execute()

    async def sweep(self, topic: str) -> list[int]:
        gone = await self._sweep(keys=[_key(topic)], args=[time.time()])
        return [int(user) for user in gone]

    async def close(self) -> None:
        await self.redis.aclose()


class MemoryPresence:
    """The same rules for the single process of the embedded mode."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self.entries: dict[str, dict[tuple[int, str], float]] = defaultdict(dict)

    def _users(self, topic: str, now: float) -> set[int]:
        return {user for (user, _), expiry in self.entries[topic].items() if expiry > now}

    async def join(self, topic: str, user_id: int, connection_id: str) -> bool:
        now = time.time()
        first = user_id not in self._users(topic, now)
        self.entries[topic][(user_id, connection_id)] = now + self.ttl
        return first

    async def leave(self, topic: str, user_id: int, connection_id: str) -> bool:
        if self.entries[topic].pop((user_id, connection_id), None) is None:
            return False
        return user_id not in self._users(topic, time.time())

    async def members(self, topic: str) -> list[int]:
        return sorted(self._users(topic, time.time()))

    async def members_each(self, topics: list[str]) -> list[list[int]]:
        return [await self.members(topic) for topic in topics]

    async def renew(self, entries: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
        expiry = time.time() + self.ttl
        for topic, user_id, connection_id in entries:
            if (user_id, connection_id) in self.entries[topic]:
                self.entries[topic][(user_id, connection_id)] = expiry
        return []  # this process's memory loses nothing

    async def restore(self, entries: list[tuple[str, int, str]]) -> None:
        expiry = time.time() + self.ttl
        for topic, user_id, connection_id in entries:
            self.entries[topic][(user_id, connection_id)] = expiry

    async def sweep(self, topic: str) -> list[int]:
        now = time.time()
        stale = [key for key, expiry in self.entries[topic].items() if expiry <= now]
        for key in stale:
            del self.entries[topic][key]
        live = self._users(topic, now)
        return sorted({user for user, _ in stale} - live)

    async def close(self) -> None:
        pass
