from django.conf import settings
from django.db import models


class Conversation(models.Model):
    """One per student-instructor pair; both may write before any booking."""

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    last_message = models.ForeignKey(
        "Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student", "instructor"], name="conversation_one_per_pair"
            ),
            models.CheckConstraint(
                condition=~models.Q(student=models.F("instructor")),
                name="conversation_two_people",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk}"

    def other(self, user_id: int) -> int:
        return self.instructor_id if user_id == self.student_id else self.student_id


class Participant(models.Model):
    """A person's place in a conversation: what they have read and been e-mailed about."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_participations"
    )
    # Message ids only grow, so "read up to" and "notified up to" are single numbers.
    last_read_message_id = models.BigIntegerField(default=0)
    last_notified_message_id = models.BigIntegerField(default=0)
    # Kept with every send, read and delete, so no request counts a long unread backlog.
    unread_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="participant_once")
        ]
        indexes = [models.Index(fields=["user", "conversation"], name="participant_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation_id}"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField()
    client_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_id"], name="message_client_id_once"
            ),
        ]
        # History pages newest first by id within one conversation.
        indexes = [
            models.Index(fields=["conversation", "-id"], name="message_history"),
            models.Index(fields=["created_at"], name="message_created"),  # offline notices
        ]

    def __str__(self) -> str:
        return f"Message {self.pk}"

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None
