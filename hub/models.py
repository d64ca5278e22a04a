import secrets

from django.db import models


def new_epoch() -> str:
    return secrets.token_hex(8)


class Topic(models.Model):
    """A topic's counter: `last_seq` is the seq of its newest durable event.

    The epoch changes only if the row is made anew (a restored or reset database),
    which tells a resuming client that the old seqs mean nothing here.
    """

    name = models.CharField(max_length=100, unique=True)
    last_seq = models.BigIntegerField(default=0)
    epoch = models.CharField(max_length=16, default=new_epoch)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seq}"


class Event(models.Model):
    """One durable event in a topic's log, kept for the retention period."""

    # No index of its own: the unique (topic, seq) index starts with it (a second one cost
    # 86 MB per 10 million events, and a write per event; docs/scaling.md).
    topic = models.ForeignKey(
        Topic, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    seq = models.BigIntegerField()
    type = models.CharField(max_length=64)
    data = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["topic", "seq"], name="event_seq_unique_per_topic")
        ]
        indexes = [models.Index(fields=["created_at"], name="event_created_at")]

    def __str__(self) -> str:
        return f"{self.topic_id}#{self.seq} {self.type}"


class ServerProcess(models.Model):
    """A running server process; `renewed_at` is its heartbeat, renewed with presence."""

    id = models.CharField(primary_key=True, max_length=32)
    label = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField()
    renewed_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.label or self.id} (renewed {self.renewed_at:%H:%M:%S})"


class Connection(models.Model):
    """An authenticated socket, so any process (a Celery worker too) can tell who is online.

    Plain ids rather than foreign keys: rows are written in batches from the server's
    loop, and a connection is alive only while its process keeps renewing.
    """

    id = models.CharField(primary_key=True, max_length=32)
    process_id = models.CharField(max_length=32, db_index=True)
    user_id = models.BigIntegerField(db_index=True)
    opened_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.id} user {self.user_id}"
