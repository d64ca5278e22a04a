"""Group commit: writes that arrive while one is being committed go together in the next.

A socket handler awaits `submit(item)`. At most one batch is written at a time, on a
thread of its own that keeps its database connection: while it runs, new items wait,
and then all of them (up to `max_batch`) are written by one call of `write`, in one
transaction. An idle server writes each item at once; a busy one writes fewer, larger
transactions, so one popular topic's counter row is locked once per batch instead of
once per message, and the per-transaction cost is shared.
"""

import asyncio
import logging
import os
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from asgiref.sync import SyncToAsync
from django.db import DatabaseError

from hub import metrics
from hub.dbthreads import database_error_seen, tidy_connections_now_and_then

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


@dataclass
class _Queue(Generic[Item, Outcome]):
    """One event loop's waiting items and the task that writes them."""

    waiting: list[tuple[Item, asyncio.Future[Outcome | BaseException]]] = field(
        default_factory=list
    )
    writer: asyncio.Task[None] | None = None


class GroupCommit(Generic[Item, Outcome]):
    """`write(items)` returns one outcome per item, in order; an item's own failure is
    its outcome (an exception instance), never the batch's."""

    def __init__(
        self,
        name: str,
        write: Callable[[list[Item]], Sequence[Outcome | BaseException]],
        max_batch: int = 200,
    ):
        self.name = name
        self._write = write
        self._max_batch = max_batch
        self._thread: ThreadPoolExecutor | None = None
        self._thread_pid = 0
        self._queues: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, _Queue[Item, Outcome]
        ] = weakref.WeakKeyDictionary()

    async def submit(self, item: Item) -> Outcome:
        """Write `item` with whatever else is waiting; raises the item's own error."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue[Item, Outcome]()
        future: asyncio.Future[Outcome | BaseException] = loop.create_future()
        queue.waiting.append((item, future))
        if queue.writer is None:
            queue.writer = loop.create_task(self._drain(queue))
        outcome = await future
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _drain(self, queue: _Queue[Item, Outcome]) -> None:
        loop = asyncio.get_running_loop()
        try:
            while queue.waiting:
                batch = queue.waiting[: self._max_batch]
                del queue.waiting[: self._max_batch]
                items = [item for item, _ in batch]
                began = time.monotonic()
                try:
                    outcomes: Sequence[Outcome | BaseException] = await loop.run_in_executor(
                        self._writer_thread(), self._write_batch, loop, items
                    )
                except Exception as error:  # the thread itself failed: tell every sender
                    outcomes = [error] * len(batch)
                metrics.group_commit(self.name, len(batch), time.monotonic() - began)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():  # its sender may have gone meanwhile
                        future.set_result(outcome)
        finally:
            queue.writer = None

    def _writer_thread(self) -> ThreadPoolExecutor:
        """One thread per process (a forked child makes its own)."""
        if self._thread is None or self._thread_pid != os.getpid():
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
            self._thread_pid = os.getpid()
        return self._thread

    def _write_batch(
        self, loop: asyncio.AbstractEventLoop, items: list[Item]
    ) -> Sequence[Outcome | BaseException]:
        # Working for `loop` as Channels' worker threads do, so the code run here finds
        # the server's loop (hub.services.server_loop) to publish and ask presence on.
        SyncToAsync.threadlocal.main_event_loop = loop
        SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
        tidy_connections_now_and_then()
        outcomes = self._write_each_if_needed(items)
        if any(isinstance(outcome, DatabaseError) for outcome in outcomes):
            database_error_seen()
        return outcomes

    def _write_each_if_needed(self, items: list[Item]) -> Sequence[Outcome | BaseException]:
        """The batch in one transaction; if that fails as a whole (a deadlock, a lost
        connection), each item alone, so one item's trouble is not the others'."""
        try:
            return self._write(items)
        except Exception as error:
            if len(items) == 1:
                return [error]
            logger.warning("%s: a batch of %d failed (%s); writing each alone", self.name,
                           len(items), error)  # fmt: skip
        outcomes: list[Outcome | BaseException] = []
        for item in items:
            try:
                outcomes.extend(self._write([item]))
            except Exception as error:
                outcomes.append(error)
        return outcomes
