from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    """What a notification reports; each kind has its own e-mail preference."""

    BOOKING_CONFIRMED = "booking_confirmed", "A booking is confirmed"
    BOOKING_CANCELLED = "booking_cancelled", "A booking is cancelled"
    BOOKING_RESCHEDULED = "booking_rescheduled", "A booking is moved"
    BOOKING_EXPIRED = "booking_expired", "An unpaid booking expired"
    PAYMENT_FAILED = "payment_failed", "A payment needs attention"
    LESSON_REMINDER = "lesson_reminder", "A lesson is coming up"
    MESSAGE = "message", "New messages in a conversation"
    EXPORT_READY = "export_ready", "A data export is ready"


class Notification(models.Model):
    """Something a person should see when they come back: kept until read and pruned.

    `group_key` names what repeats collapse into (`conversation:5`): while one of a group
    is unread, no other is made.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    data = models.JSONField(default=dict)
    group_key = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Newest first, and the unread ones (list, count, mark read).
            models.Index(fields=["user", "-id"], name="notification_user_newest"),
            models.Index(
                fields=["user", "-id"],
                condition=models.Q(read_at__isnull=True),
                name="notification_user_unread",
            ),
            models.Index(
                fields=["read_at"],
                condition=models.Q(read_at__isnull=False),
                name="notification_read_at",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=Kind.values), name="notification_kind_valid"
            ),
            # One unread notification per group: the database says so, not only the code.
            models.UniqueConstraint(
                fields=["user", "group_key"],
                condition=models.Q(read_at__isnull=True) & ~models.Q(group_key=""),
                name="notification_one_unread_per_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


class NotificationSettings(models.Model):
    """A person's e-mail choice per kind; a kind not listed follows its default (on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    email = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Notification settings of {self.user_id}"
