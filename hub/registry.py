"""Which users have an open connection anywhere, kept in the database.

Each server process writes its authenticated connections in small batches and
renews one heartbeat row; a process that dies stops renewing, and its
connections stop counting after the presence TTL. The database, not one
process's memory, holds it, so a Celery worker can ask too (in both modes).
"""

import logging
import os
import socket
import uuid
from collections.abc import Iterable
from datetime import timedelta

from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from hub import conf
from hub.models import Connection, ServerProcess

logger = logging.getLogger(__name__)

# A dead process's rows are deleted once its heartbeat is this many TTLs old.
PRUNE_AFTER_TTLS = 10
# How often a process writes its opened and closed connections (one batch each time).
REGISTRY_BATCH_SECONDS = 1.0


def process_label() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"[:200]


@transaction.atomic
def connections_record(
    *, process_id: str, opened: dict[str, int], closed: Iterable[str], heartbeat: bool
) -> None:
    """Apply one batch of opened (connection id → user id) and closed connections."""
    now = timezone.now()
    if heartbeat or opened:
        updated = ServerProcess.objects.filter(pk=process_id).update(renewed_at=now)
        if not updated:
            ServerProcess.objects.create(
                id=process_id, label=process_label(), started_at=now, renewed_at=now
            )
    closed = list(closed)
    if closed:
        Connection.objects.filter(pk__in=closed).delete()
    if opened:
        Connection.objects.bulk_create(
            [
                Connection(id=cid, process_id=process_id, user_id=uid, opened_at=now)
                for cid, uid in opened.items()
            ],
            ignore_conflicts=True,
        )


def process_forget(*, process_id: str) -> None:
    """A clean shutdown: this process's connections are gone at once."""
    with transaction.atomic():
        Connection.objects.filter(process_id=process_id).delete()
        ServerProcess.objects.filter(pk=process_id).delete()


def processes_prune() -> int:
    """Delete processes that stopped renewing long ago, with their connections."""
    cutoff = timezone.now() - timedelta(seconds=conf.presence_ttl() * PRUNE_AFTER_TTLS)
    dead = list(ServerProcess.objects.filter(renewed_at__lt=cutoff).values_list("pk", flat=True))
    if dead:
        with transaction.atomic():
            Connection.objects.filter(process_id__in=dead).delete()
            ServerProcess.objects.filter(pk__in=dead).delete()
    return len(dead)


def users_connected(user_ids: Iterable[int]) -> set[int]:
    """Those of `user_ids` with an open connection on a process that is alive."""
    user_ids = set(user_ids)
    if not user_ids:
        return set()
    alive = ServerProcess.objects.filter(
        renewed_at__gte=timezone.now() - timedelta(seconds=conf.presence_ttl())
    ).values("pk")
    return set(
        Connection.objects.filter(user_id__in=user_ids, process_id__in=alive).values_list(
            "user_id", flat=True
        )
    )


class ConnectionBatch:
    """A server process's registry changes, written as one batch every REGISTRY_BATCH_SECONDS.

    Opening and closing a socket then costs no query on the connection's own path.
    """

    def __init__(self) -> None:
        self.process_id = uuid.uuid4().hex
        self._opened: dict[str, int] = {}
        self._closed: set[str] = set()
        self._heartbeat_due = True
        self._failing = False

    def opened(self, connection_id: str, user_id: int) -> None:
        self._opened[connection_id] = user_id

    def closed(self, connection_id: str) -> None:
        """A connection that closes before its opening was written is never written at all."""
        if self._opened.pop(connection_id, None) is None:
            self._closed.add(connection_id)

    def renew_heartbeat(self) -> None:
        self._heartbeat_due = True

    async def write(self) -> None:
        """Write the connections opened and closed since the last batch."""
        if not (self._opened or self._closed or self._heartbeat_due):
            return
        opened, closed, heartbeat = self._opened, self._closed, self._heartbeat_due
        self._opened, self._closed, self._heartbeat_due = {}, set(), False
        try:
            await database_sync_to_async(connections_record)(
                process_id=self.process_id, opened=opened, closed=closed, heartbeat=heartbeat
            )
        except Exception as exc:  # the database is away: keep the batch for the next round
            if not self._failing:  # once per outage, not every second
                logger.warning("Could not record connection changes (%s); will retry", exc)
            self._failing = True
            opened.update(self._opened)
            closed |= self._closed
            never_written = closed & opened.keys()  # opened and closed again meanwhile
            self._opened = {c: u for c, u in opened.items() if c not in never_written}
            self._closed = closed - never_written
            self._heartbeat_due = True
            return
        if self._failing:
            logger.warning("Connection changes recorded again")
            self._failing = False

    async def forget(self) -> None:
        """On a clean shutdown, remove this process and its connections at once."""
        try:
            await database_sync_to_async(process_forget)(process_id=self.process_id)
        except Exception:  # its rows stop counting when the heartbeat ages
            logger.warning("Could not remove this process from the connection registry")
