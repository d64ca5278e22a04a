"""Every write of chat. The socket's `publish` handlers and the REST views call these."""

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.erasure import user_hold_active
from accounts.models import Role, User
from bookings.models import Booking
from chat.events import (
    conversation_topic,
    conversation_updated,
    message_event,
    message_history_rewrite,
    participant_erased,
    read_event,
    sender_history_erase,
)
from chat.models import Conversation, Message, Participant
from chat.notices import message_notice_seen, message_notices_erase, message_notify
from chat.selectors import participant_get, unread_count
from conventions.errors import Conflict, Forbidden, Invalid, NotFound
from conventions.mail import emails_forget
from conventions.ratelimit import Rate, take
from conventions.text import text_refuse_controls
from hub.viewing import users_viewing

MAX_BODY = 4000
MAX_CLIENT_ID = 64


def send_rate() -> Rate:
    return Rate.per_minute(settings.CHAT_MESSAGE_RATE_PER_MINUTE, settings.CHAT_MESSAGE_BURST)


def conversation_open(*, user: User, participant_id: int) -> tuple[Conversation, bool]:
    """The one conversation of a student-instructor pair, made on first need.

    Students may write to any instructor; instructors only to students who have
    booked them, so no one can probe which student accounts exist.
    """
    sides = (Role.STUDENT, Role.INSTRUCTOR)
    if user.role not in sides:
        raise Forbidden("Only students and instructors have conversations.")
    other = User.objects.filter(pk=participant_id, is_active=True).first()
    if other is None or other.role not in sides or other.role == user.role:
        raise NotFound("No such person to talk to.")
    student, instructor = (user, other) if user.role == Role.STUDENT else (other, user)
    existing = Conversation.objects.filter(student=student, instructor=instructor).first()
    if existing is not None:
        return existing, False
    if (
        user == instructor
        and not Booking.objects.filter(student=student, instructor_id=instructor.pk).exists()
    ):
        raise NotFound("No such person to talk to.")
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(student=student, instructor=instructor)
            Participant.objects.bulk_create(
                [
                    Participant(conversation=conversation, user=student),
                    Participant(conversation=conversation, user=instructor),
                ]
            )
    except IntegrityError:  # the other side opened it at the same instant
        return Conversation.objects.get(student=student, instructor=instructor), False
    return conversation, True


def _clean_body(body: object) -> str:
    if not isinstance(body, str):
        raise Invalid("`body` must be text.", details={"body": "must be a string"})
    body = text_refuse_controls(body.strip(), field="body", multi_line=True)
    if not body or len(body) > MAX_BODY:
        raise Invalid(
            f"A message is 1 to {MAX_BODY} characters after trimming.",
            details={"body": f"1 to {MAX_BODY} characters"},
        )
    return body


def _clean_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= MAX_CLIENT_ID:
        raise Invalid(
            f"`client_id` is a string of 1 to {MAX_CLIENT_ID} characters.",
            details={"client_id": f"1 to {MAX_CLIENT_ID} characters"},
        )
    return text_refuse_controls(client_id, field="client_id")


def _message_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise Invalid("`message_id` must be a message id.", details={"message_id": "invalid"})
    return value


def message_send(
    *, user: User, conversation_id: int, body: object, client_id: object
) -> tuple[Message, bool]:
    """Store a message and tell both sides; a repeated `client_id` returns the stored one.

    Returns the message and whether it is new. Invalid sends and repeats spend no
    rate-limit token; a refused (rate-limited) send stores nothing.
    """
    participant = participant_get(user=user, conversation_id=conversation_id)
    body, client_id = _clean_body(body), _clean_client_id(client_id)
    stored = Message.objects.filter(
        conversation_id=conversation_id, sender=user, client_id=client_id
    ).first()
    if stored is not None:
        return stored, False
    take(f"chat.send:{user.pk}", send_rate())
    other = participant.conversation.other(user.pk)
    viewing = other in users_viewing(conversation_topic(conversation_id))
    try:
        with transaction.atomic():
            user_hold_active(user=user)  # an erasure of the sender waits, or has happened
            message = Message.objects.create(
                conversation_id=conversation_id, sender=user, body=body, client_id=client_id
            )
            conversation = participant.conversation
            Conversation.objects.filter(pk=conversation.pk).update(
                last_message=message, updated_at=message.created_at
            )
            # Writing means having read everything before it.
            Participant.objects.filter(pk=participant.pk).update(
                last_read_message_id=message.pk, unread_count=0
            )
            message_event(message, "message.created")
            marker, unread = _one_more_unread(conversation.pk, other)
            conversation_updated(
                conversation, for_user_id=other, marker=marker, unread=unread, last_message=message
            )
            if not viewing:
                message_notify(message, recipient_id=other)
    except IntegrityError:  # the same client_id raced in from another request
        stored = Message.objects.filter(
            conversation_id=conversation_id, sender=user, client_id=client_id
        ).first()
        if stored is None:
            raise
        return stored, False
    return message, True


def _one_more_unread(conversation_id: int, user_id: int) -> tuple[int, int]:
    """Count a new message for its recipient; returns their read marker and unread count."""
    table = Participant._meta.db_table
    with connection.cursor() as cursor:
        # The table name is the model's own, never input; values go as parameters.
        cursor.execute(
            f"UPDATE {table} SET unread_count = unread_count + 1"  # nosec B608
            " WHERE conversation_id = %s AND user_id = %s"
            " RETURNING last_read_message_id, unread_count",
            [conversation_id, user_id],
        )
        last_read, unread = cursor.fetchone()
        return int(last_read), int(unread)


def _own_message(user: User, conversation_id: int, message_id: object) -> Message:
    participant_get(user=user, conversation_id=conversation_id)
    message = Message.objects.filter(
        pk=_message_id(message_id), conversation_id=conversation_id
    ).first()
    if message is None:
        raise NotFound("No such message.")
    if message.sender_id != user.pk:
        raise Forbidden("Only the author may change a message.")
    if message.deleted:
        raise Conflict("The message was deleted.")
    return message


@transaction.atomic
def message_edit(*, user: User, conversation_id: int, message_id: object, body: object) -> Message:
    """The author rewrites a message; both sides get `message.edited`."""
    body = _clean_body(body)
    user_hold_active(user=user)  # an erasure of the author waits, or has happened
    message = _own_message(user, conversation_id, message_id)
    take(f"chat.edit:{user.pk}", send_rate())  # limited like sends; refusals change nothing
    message.body = body
    message.edited_at = timezone.now()
    message.save(update_fields=["body", "edited_at"])
    message_history_rewrite(message, participant_ids=_pair(conversation_id))
    message_event(message, "message.edited")
    return message


@transaction.atomic
def message_delete(*, user: User, conversation_id: int, message_id: object) -> Message:
    """The author deletes a message: it keeps its place, its body is erased."""
    message = _own_message(user, conversation_id, message_id)
    message.body = ""
    message.deleted_at = timezone.now()
    message.save(update_fields=["body", "deleted_at"])
    # If the other side had not read it yet, it no longer counts as unread.
    Participant.objects.filter(
        conversation_id=conversation_id,
        last_read_message_id__lt=message.pk,
        unread_count__gt=0,
    ).exclude(user=user).update(unread_count=F("unread_count") - 1)
    message_history_rewrite(message, participant_ids=_pair(conversation_id))
    message_event(message, "message.deleted")
    return message


def _pair(conversation_id: int) -> tuple[int, int]:
    student_id, instructor_id = Conversation.objects.filter(pk=conversation_id).values_list(
        "student_id", "instructor_id"
    )[0]
    return student_id, instructor_id


@transaction.atomic
def read_mark(*, user: User, conversation_id: int, message_id: object) -> bool:
    """Move the read marker forward to `message_id`; never back. True if it moved."""
    participant = participant_get(user=user, conversation_id=conversation_id)
    message_id = _message_id(message_id)
    if not Message.objects.filter(pk=message_id, conversation_id=conversation_id).exists():
        raise NotFound("No such message.")
    moved = Participant.objects.filter(
        pk=participant.pk, last_read_message_id__lt=message_id
    ).update(last_read_message_id=message_id)
    if moved:
        # Counted afresh under the row lock the update took: what is left is short.
        unread = unread_count(
            conversation_id=conversation_id, user_id=user.pk, last_read_message_id=message_id
        )
        Participant.objects.filter(pk=participant.pk).update(unread_count=unread)
        if unread == 0:
            message_notice_seen(user=user, conversation_id=conversation_id)
        read_event(conversation_id=conversation_id, user_id=user.pk, message_id=message_id)
        # The reader's other tabs and devices update their inbox too.
        conversation = participant.conversation
        conversation_updated(
            conversation,
            for_user_id=user.pk,
            marker=message_id,
            unread=unread,
            last_message=conversation.last_message,
        )
    return bool(moved)


def messages_erase(*, user: User) -> int:
    """Privacy erasure: every message the person sent keeps its place but not its text,
    in the database, in every stored event and in unsent e-mail notices; the other side
    hears `participant.erased` and gets its inbox row anew. In the caller's transaction,
    after the user row is scrubbed (the new name is shown). Returns how many messages."""
    erased = Message.objects.filter(sender=user).update(
        body="", deleted_at=Coalesce(F("deleted_at"), Value(timezone.now()))
    )
    conversations = Conversation.objects.filter(
        Q(student=user) | Q(instructor=user)
    ).select_related("student", "instructor", "last_message")
    for conversation in conversations:
        other = Participant.objects.select_for_update().get(
            conversation=conversation, user_id=conversation.other(user.pk)
        )
        # Deleted messages are not unread: counted afresh under the row's lock.
        unread = unread_count(
            conversation_id=conversation.pk,
            user_id=other.user_id,
            last_read_message_id=other.last_read_message_id,
        )
        Participant.objects.filter(pk=other.pk).update(unread_count=unread)
        sender_history_erase(conversation, user_id=user.pk, name=user.name, other_id=other.user_id)
        participant_erased(conversation, user_id=user.pk, name=user.name)
        conversation_updated(
            conversation,
            for_user_id=other.user_id,
            marker=other.last_read_message_id,
            unread=unread,
            last_message=conversation.last_message,
        )
        emails_forget(key_prefix=f"offline-notice-{other.pk}-")
    message_notices_erase(user_id=user.pk, name=user.name)
    return erased
