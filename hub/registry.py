"""Which users have an open connection anywhere, kept in the database.

Each server process writes its authenticated connections in small batches and
renews one heartbeat row; a process that dies stops renewing, and its
connections stop counting after the presence TTL. The database, not one
process's memory, holds it, so a Celery worker can ask too (in both modes).
"""

import os
import socket
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from hub import conf
from hub.models import Connection, ServerProcess

# A dead process's rows are deleted once its heartbeat is this many TTLs old.
PRUNE_AFTER_TTLS = 10


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
