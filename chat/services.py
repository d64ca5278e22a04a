"""Every write of chat. The socket's `publish` handlers and the REST views call these."""

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.erasure import user_hold_active
from accounts.models import Role, User
from bookings.models import Booking
from chat.events import (
    conversation_updated,
    message_event,
    message_history_rewrite,
    participant_erased,
    read_event,
    sender_history_erase,
)
from chat.models import Conversation, Message, Participant
from chat.notices import message_notice_seen, message_notices_erase
from chat.rules import clean_body, send_rate
from chat.selectors import participant_get, unread_count
from chat.sending import SendRequest, messages_send
from conventions.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from conventions.mail import emails_forget
from conventions.ratelimit import take


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


def _message_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise Invalid("`message_id` must be a message id.", details={"message_id": "invalid"})
    return value


def message_send(
    *, user: User, conversation_id: int, body: object, client_id: object
) -> tuple[Message, bool]:
    """Store a message and tell both sides; a repeated `client_id` returns the stored one.

    Returns the message and whether it is new. Invalid sends and repeats spend no
    rate-limit token; a refused (rate-limited) send stores nothing. (The socket sends
    many at once through `chat.sending`; this is one of them on its own.)
    """
    (outcome,) = messages_send([SendRequest(user, conversation_id, body, client_id)])
    if isinstance(outcome, ServiceError):
        raise outcome
    return outcome


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
    body = clean_body(body)
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
