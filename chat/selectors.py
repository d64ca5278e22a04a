"""Reads: a user's conversations with unread counts, and message history."""

from typing import Any

from django.db.models import Q, Sum

from accounts.models import User
from bookings.models import Booking
from chat.models import Conversation, Message, Participant
from chat.shapes import conversation_data, lesson_data, message_data
from conventions.errors import NotFound
from conventions.pagination import moment_page
from conventions.times import iso_z

BOOKINGS_SHOWN = 10


def participant_get(*, user: User, conversation_id: int) -> Participant:
    """The user's place in a conversation; not being in it looks exactly like it not existing."""
    participant = (
        Participant.objects.select_related(
            "conversation__student", "conversation__instructor", "conversation__last_message"
        )
        .filter(user=user, conversation_id=conversation_id)
        .first()
    )
    if participant is None:
        raise NotFound("No such conversation.")
    return participant


def is_participant(*, user_id: int, conversation_id: int) -> bool:
    return Participant.objects.filter(user_id=user_id, conversation_id=conversation_id).exists()


def unread_count(*, conversation_id: int, user_id: int, last_read_message_id: int) -> int:
    """Counted afresh: after a read (a short backlog), and to check the kept counter."""
    return (
        Message.objects.filter(
            conversation_id=conversation_id, id__gt=last_read_message_id, deleted_at__isnull=True
        )
        .exclude(sender_id=user_id)
        .count()
    )


LESSON_FIELDS = ("pk", "status", "start", "end", "service__name")


def pair_lessons(conversation: Conversation) -> list[dict[str, Any]]:
    """The pair's lessons, newest first, so the chat pane shows what it is about."""
    lessons = (
        Booking.objects.filter(
            student_id=conversation.student_id, instructor_id=conversation.instructor_id
        )
        .order_by("-start")
        .values_list(*LESSON_FIELDS)[:BOOKINGS_SHOWN]
    )
    return [lesson_data(*row) for row in lessons]


def lessons_of_pairs(
    conversations: list[Conversation],
) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """The lessons of a page of conversations in one query, grouped by pair."""
    pairs = {(c.student_id, c.instructor_id) for c in conversations}
    found: dict[tuple[int, int], list[dict[str, Any]]] = {pair: [] for pair in pairs}
    if not pairs:
        return found
    lessons = Booking.objects.filter(
        student_id__in={s for s, _ in pairs}, instructor_id__in={i for _, i in pairs}
    ).order_by("-start")
    for student_id, instructor_id, *row in lessons.values_list(
        "student_id", "instructor_id", *LESSON_FIELDS
    ):
        kept = found.get((student_id, instructor_id))
        if kept is not None and len(kept) < BOOKINGS_SHOWN:
            kept.append(lesson_data(*row))
    return found


def conversation_for_viewer(*, conversation_id: int, viewer_id: int) -> dict[str, Any]:
    """The conversation as `viewer_id` sees it: their unread count and read marker."""
    conversation = Conversation.objects.select_related("student", "instructor", "last_message").get(
        pk=conversation_id
    )
    marker, unread = (
        Participant.objects.filter(conversation=conversation, user_id=viewer_id)
        .values_list("last_read_message_id", "unread_count")
        .first()
    ) or (0, 0)
    return conversation_data(
        conversation,
        marker=marker,
        unread=unread,
        last_message=conversation.last_message,
        lessons=pair_lessons(conversation),
    )


def conversation_list(
    *, user: User, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None, int]:
    """The user's conversations, most recently active first, and their total unread count.

    A page costs three queries whatever its length: the user's places, the pairs'
    lessons and the unread total.
    """
    places = Participant.objects.filter(user=user).select_related(
        "conversation__student", "conversation__instructor", "conversation__last_message"
    )
    page, next_cursor = moment_page(
        places,
        cursor=cursor,
        limit=limit,
        moment="conversation__updated_at",
        pk="conversation_id",
        newest_first=True,
    )
    lessons = lessons_of_pairs([p.conversation for p in page])
    items = [
        conversation_data(
            p.conversation,
            marker=p.last_read_message_id,
            unread=p.unread_count,
            last_message=p.conversation.last_message,
            lessons=lessons[(p.conversation.student_id, p.conversation.instructor_id)],
        )
        for p in page
    ]
    return items, next_cursor, unread_total(user=user)


def unread_total(*, user: User) -> int:
    """Unread messages across all the user's conversations."""
    total = Participant.objects.filter(user=user).aggregate(total=Sum("unread_count"))["total"]
    return total or 0


def message_history(
    *, user: User, conversation_id: int, before: int | None, limit: int
) -> tuple[list[Message], bool]:
    """Newest first, `limit` messages older than `before`; one index range scan per page."""
    participant_get(user=user, conversation_id=conversation_id)
    messages = Message.objects.filter(conversation_id=conversation_id)
    if before is not None:
        messages = messages.filter(id__lt=before)
    page = list(messages.order_by("-id")[: limit + 1])
    return page[:limit], len(page) > limit


def conversations_export(*, user: User) -> list[dict[str, Any]]:
    """The person's conversations, with whom and since when, and the messages they wrote
    (not the other side's: those are the other person's words), for their data export."""
    conversations = (
        Conversation.objects.filter(Q(student=user) | Q(instructor=user))
        .select_related("student", "instructor")
        .order_by("pk")
    )
    own: dict[int, list[dict[str, Any]]] = {}
    for message in Message.objects.filter(sender=user).order_by("pk"):
        own.setdefault(message.conversation_id, []).append(message_data(message))
    return [
        {
            "id": c.pk,
            "student": {"id": c.student_id, "name": c.student.name},
            "instructor": {"id": c.instructor_id, "name": c.instructor.name},
            "created_at": iso_z(c.created_at),
            "messages": own.get(c.pk, []),
        }
        for c in conversations
    ]
