"""The e-mail outbox: an e-mail is a row written with the change that causes it."""

from django.db import models
from django.db.models import Q


class OutgoingEmail(models.Model):
    """One e-mail to one recipient, queued in the transaction of the change it reports.

    `key` names what the e-mail is about, so queuing it twice queues it once;
    `claimed_until` is the lease of the run sending it now.
    """

    key = models.CharField(max_length=200, unique=True)
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=998)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # Null once sent or given up: nothing more is tried.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(sent_at__isnull=True),
                name="outgoing_email_due",
            ),
            models.Index(
                fields=["sent_at"], condition=Q(sent_at__isnull=False), name="outgoing_email_sent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} to {self.to}"
