"""A token bucket that every app shares across transports and processes.

`take()` spends one token from the bucket named by `key` or raises RateLimited
with how long until one is back; `peek()` says how long until one is there
without spending it (to refuse before doing expensive work). With Redis the
bucket lives there (one atomic script per call), so a user's socket and REST
calls on any process draw from the same bucket; in the embedded mode the one
process keeps it in memory.
"""

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis
from django.conf import settings

from conventions.errors import RateLimited
from conventions.metrics import rate_limited

logger = logging.getLogger(__name__)

TAKE = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed, wait = 0, 0
if tokens >= 1 then tokens = tokens - cost; allowed = 1 else wait = (1 - tokens) / rate end
if cost == 0 then return {allowed, tostring(wait)} end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


@dataclass(frozen=True)
class Rate:
    """`per_second` tokens refill continuously up to `burst`."""

    per_second: float
    burst: int

    @classmethod
    def per_minute(cls, count: float, burst: int) -> "Rate":
        return cls(count / 60.0, burst)


class Buckets(Protocol):
    """Where the buckets live: Redis (shared by every process) or this process's memory."""

    def take(self, key: str, rate: Rate, cost: int = 1) -> float:
        """Spend `cost` tokens (0: only look); return 0 or the seconds until one is back."""
        ...

    def take_each(self, keys: list[str], rate: Rate) -> list[float]:
        """One token from each bucket (a key may repeat), in order; each one's wait."""
        ...


class RedisBuckets:
    """Buckets in Redis; while Redis is away, in this process's memory instead: a limit
    kept per process for a while beats refusing every request (Redis is never required)."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.script = self.client.register_script(TAKE)
        self.fallback = MemoryBuckets()
        self.degraded = False

    def take(self, key: str, rate: Rate, cost: int = 1) -> float:
        try:
            allowed, wait = self.script(
                keys=[f"{_prefix()}:rate:{key}"],
                args=[rate.per_second, rate.burst, time.time(), cost],
            )
        except redis.RedisError as exc:
            if not self.degraded:
                logger.warning("Rate limits kept in memory: Redis is unavailable (%s)", exc)
                self.degraded = True
            return self.fallback.take(key, rate, cost)
        if self.degraded:
            logger.warning("Rate limits back in Redis")
            self.degraded = False
        return 0.0 if allowed else float(wait)

    def take_each(self, keys: list[str], rate: Rate) -> list[float]:
        """`take` for many buckets, in one round trip."""
        try:
            pipe = self.client.pipeline(transaction=False)
            now = time.time()
            for key in keys:
                self.script(
                    keys=[f"{_prefix()}:rate:{key}"],
                    args=[rate.per_second, rate.burst, now, 1],
                    client=pipe,
                )
            answers = pipe.execute()
        except redis.RedisError:
            return [self.take(key, rate) for key in keys]  # each falls back on its own
        return [0.0 if allowed else float(wait) for allowed, wait in answers]


class MemoryBuckets:
    def __init__(self) -> None:
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str, rate: Rate, cost: int = 1) -> float:
        now = time.time()
        with self.lock:
            tokens, at = self.buckets.get(key, (rate.burst, now))
            tokens = min(rate.burst, tokens + max(0.0, now - at) * rate.per_second)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / rate.per_second
            if cost:
                self.buckets[key] = (tokens - cost if tokens >= 1 else tokens, now)
            return wait

    def take_each(self, keys: list[str], rate: Rate) -> list[float]:
        return [self.take(key, rate) for key in keys]


_buckets: Buckets | None = None


def buckets() -> Buckets:
    global _buckets
    if _buckets is None:
        _buckets = RedisBuckets(settings.REDIS_URL) if settings.REDIS_URL else MemoryBuckets()
    return _buckets


def _prefix() -> str:
    """This deployment's Redis key prefix (see HUB_KEY_PREFIX)."""
    return str(getattr(settings, "HUB_KEY_PREFIX", "hub"))


def take(key: str, rate: Rate) -> None:
    """Spend one token or raise RateLimited(retry_after=seconds)."""
    wait = buckets().take(key, rate)
    if wait > 0:
        rate_limited(key)
        raise RateLimited(
            "Too many requests; slow down.", retry_after=math.ceil(wait * 1000) / 1000
        )


def take_each(keys: list[str], rate: Rate) -> list[float]:
    """`take` for many requests at once: 0 for each one let through, else the seconds
    (rounded up to the millisecond) until its bucket has a token again."""
    if not keys:
        return []
    waits = buckets().take_each(keys, rate)
    for key, wait in zip(keys, waits, strict=True):
        if wait > 0:
            rate_limited(key)
    return [math.ceil(wait * 1000) / 1000 if wait > 0 else 0.0 for wait in waits]


def peek(key: str, rate: Rate) -> None:
    """Raise RateLimited if `take` would, without spending a token."""
    wait = buckets().take(key, rate, cost=0)
    if wait > 0:
        rate_limited(key)
        raise RateLimited(
            "Too many attempts; try again later.", retry_after=math.ceil(wait * 1000) / 1000
        )
