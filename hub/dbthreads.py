"""ORM work of the live transport, on the loop's worker threads, without a health check
per call.

Channels' `database_sync_to_async` runs `close_old_connections` before and after every
call, so with `CONN_HEALTH_CHECKS` each call's first query is preceded by a `SELECT 1`
round trip. Here a thread tidies its connection (age, health) at most every few seconds,
and on the next call after a database error.
"""

import asyncio
import functools
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync
from django.db import DatabaseError, close_old_connections

T = TypeVar("T")

TIDY_SECONDS = 5.0
_thread = threading.local()


def tidy_connections_now_and_then() -> None:
    """Close this thread's connection if it is too old or broken, at most every
    TIDY_SECONDS (and at once after a database error)."""
    now = time.monotonic()
    if now >= getattr(_thread, "tidy_at", 0.0):
        close_old_connections()
        _thread.tidy_at = now + TIDY_SECONDS


def database_error_seen() -> None:
    """The connection may be broken: check it before this thread's next query."""
    _thread.tidy_at = 0.0


def _run(
    loop: asyncio.AbstractEventLoop, function: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    # Working for `loop` as Channels' worker threads do, so code run here finds the
    # server's loop (hub.services.server_loop) to publish and ask presence on.
    SyncToAsync.threadlocal.main_event_loop = loop
    SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
    tidy_connections_now_and_then()
    try:
        return function(*args, **kwargs)
    except DatabaseError:
        database_error_seen()
        raise


def in_db_thread(function: Callable[..., T]) -> Callable[..., Any]:
    """`function` as a coroutine function run on one of the loop's worker threads."""

    @functools.wraps(function)
    async def run(*args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, functools.partial(_run, loop, function, *args, **kwargs)
        )

    return run
