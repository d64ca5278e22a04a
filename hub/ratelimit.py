"""A token bucket that domain apps share across transports and processes.

`take()` spends one token from the bucket named by `key` or raises RateLimited
with how long until one is back. With Redis the bucket lives there (one atomic
script per call), so a user's socket and REST calls on any process draw from the
same bucket; in the embedded mode the one process keeps it in memory.
"""

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis
from django.conf import settings

from conventions.errors import RateLimited
from hub import conf

TAKE = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed, wait = 0, 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 else wait = (1 - tokens) / rate end
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

    def take(self, key: str, rate: Rate) -> float:
        """Spend one token; return 0 or the seconds until one is back."""
        ...


class RedisBuckets:
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.script = self.client.register_script(TAKE)

    def take(self, key: str, rate: Rate) -> float:
        allowed, wait = self.script(
            keys=[f"{conf.key_prefix()}:rate:{key}"],
            args=[rate.per_second, rate.burst, time.time()],
        )
        return 0.0 if allowed else float(wait)


class MemoryBuckets:
    def __init__(self) -> None:
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str, rate: Rate) -> float:
        now = time.time()
        with self.lock:
            tokens, at = self.buckets.get(key, (rate.burst, now))
            tokens = min(rate.burst, tokens + max(0.0, now - at) * rate.per_second)
            if tokens >= 1:
                self.buckets[key] = (tokens - 1, now)
                return 0.0
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / rate.per_second


_buckets: Buckets | None = None


def buckets() -> Buckets:
    global _buckets
    if _buckets is None:
        _buckets = RedisBuckets(settings.REDIS_URL) if settings.REDIS_URL else MemoryBuckets()
    return _buckets


def take(key: str, rate: Rate) -> None:
    """Spend one token or raise RateLimited(retry_after=seconds)."""
    wait = buckets().take(key, rate)
    if wait > 0:
        raise RateLimited("Too many requests; slow down.", retry_after=round(wait, 3))
