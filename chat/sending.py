"""Sending messages, many at a time: the socket's group commit and REST's single send.

`messages_send` stores a batch of sends in one transaction with a fixed number of
statements, whatever its size: each topic's counter, each conversation and each
participant row is written once per batch. Every guarantee of a single send holds per
message: stored before pushed, `client_id` idempotency (a repeat returns the stored
message and spends no rate-limit token), the rate limit, the read marker and unread
count of both sides, the recipient's inbox row and notification.
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from chat.events import conversation_topic
from chat.models import Conversation, Message, Participant
from chat.notices import message_notify
from chat.rules import clean_body, clean_client_id, send_rate
from chat.selectors import lessons_of_pairs
from chat.shapes import conversation_data, message_data
from conventions.errors import NotFound, RateLimited, ServiceError, Unauthorized
from conventions.ratelimit import take_each
from conventions.sql import placeholders, row_lock, rows_source
from hub.services import lock_counters, publish_many
from hub.topics import user_topic
from hub.viewing import users_viewing_each


@dataclass(frozen=True)
class SendRequest:
    """One `message.send`, its body and client id as the client gave them."""

    user: User
    conversation_id: int
    body: object
    client_id: object


CONVERSATION_COLUMNS = ["id", "student_id", "instructor_id", "created_at", "updated_at"]
NAME_COLUMNS = ["id", "name"]
MESSAGE_COLUMNS = [
    "id", "conversation_id", "sender_id", "body", "client_id", "created_at", "edited_at",
    "deleted_at",
]  # fmt: skip

# A stored message and whether this request made it (False: a repeated client_id).
Sent = tuple[Message, bool]
Key = tuple[int, int, str]  # conversation, sender, client_id


@dataclass
class _Accepted:
    """A valid send by a participant, on its way into the batch's transaction."""

    index: int
    request: SendRequest
    conversation: Conversation
    body: str
    client_id: str

    @property
    def key(self) -> Key:
        return (self.conversation.pk, self.request.user.pk, self.client_id)


def messages_send(requests: list[SendRequest]) -> list[Sent | ServiceError]:
    """Store every acceptable send of `requests` and tell both sides of each; one
    outcome per request, in order: the message (and whether new) or why not."""
    outcomes: list[Sent | ServiceError | None] = [None] * len(requests)
    valid: list[tuple[int, SendRequest, str, str]] = []
    for index, request in enumerate(requests):
        try:
            valid.append(
                (index, request, clean_body(request.body), clean_client_id(request.client_id))
            )
        except ServiceError as error:
            outcomes[index] = error
    conversations = _conversations_of(
        {(request.user.pk, request.conversation_id) for _, request, _, _ in valid}
    )
    accepted: list[_Accepted] = []
    for index, request, body, client_id in valid:
        conversation = conversations.get((request.user.pk, request.conversation_id))
        if conversation is None:  # not theirs looks exactly like not there
            outcomes[index] = NotFound("No such conversation.")
        else:
            accepted.append(_Accepted(index, request, conversation, body, client_id))
    stored = _stored_messages({a.key for a in accepted})
    fresh: list[_Accepted] = []
    for send in accepted:
        if send.key in stored:
            outcomes[send.index] = (stored[send.key], False)
        else:
            fresh.append(send)
    waits = take_each([f"chat.send:{send.request.user.pk}" for send in fresh], send_rate())
    allowed = []
    for send, wait in zip(fresh, waits, strict=True):
        if wait > 0:
            outcomes[send.index] = RateLimited("Too many requests; slow down.", retry_after=wait)
        else:
            allowed.append(send)
    if allowed:
        for index, outcome in _store(allowed).items():
            outcomes[index] = outcome
    assert all(outcome is not None for outcome in outcomes)
    return outcomes  # type: ignore[return-value]


def _conversations_of(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Conversation]:
    """The conversations the (user, conversation) pairs are participants of, with both
    people's names: one query, read into models without the ORM's per-row work."""
    if not pairs:
        return {}
    tables = {
        "p": Participant._meta.db_table,
        "c": Conversation._meta.db_table,
        "u": User._meta.db_table,
    }
    rows = ", ".join(["(%s, %s)"] * len(pairs))
    # Table names are the models' own, never input; values go as parameters.
    sql = (
        "SELECT p.user_id, c.id, c.student_id, c.instructor_id, c.created_at,"  # nosec B608
        f" c.updated_at, s.name, i.name FROM {tables['p']} p"
        f" JOIN {tables['c']} c ON c.id = p.conversation_id"
        f" JOIN {tables['u']} s ON s.id = c.student_id"
        f" JOIN {tables['u']} i ON i.id = c.instructor_id"
        f" WHERE (p.user_id, p.conversation_id) IN (VALUES {rows})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [x for pair in pairs for x in pair])
        found = cursor.fetchall()
    conversations = {}
    for user_id, pk, student_id, instructor_id, created_at, updated_at, student, teacher in found:
        # from_db: a model from some of its columns, without __init__'s keyword work.
        conversation = Conversation.from_db(
            None, CONVERSATION_COLUMNS, [pk, student_id, instructor_id, created_at, updated_at]
        )
        conversation.student = User.from_db(None, NAME_COLUMNS, [student_id, student])
        conversation.instructor = User.from_db(None, NAME_COLUMNS, [instructor_id, teacher])
        conversations[(user_id, pk)] = conversation
    return conversations


def _stored_messages(keys: Collection[Key]) -> dict[Key, Message]:
    """Messages already stored under these client ids (repeats of earlier sends)."""
    if not keys:
        return {}
    rows = ", ".join(["(%s, %s, %s)"] * len(keys))
    # The table name is the model's own, never input; values go as parameters.
    found = Message.objects.raw(
        f"SELECT * FROM {Message._meta.db_table}"  # nosec B608
        f" WHERE (conversation_id, sender_id, client_id) IN (VALUES {rows})",
        [x for key in keys for x in key],
    )
    return {(m.conversation_id, m.sender_id, m.client_id): m for m in found}


def _store(sends: list[_Accepted]) -> dict[int, Sent | ServiceError]:
    """One transaction for the lot. Locks are taken in one order by every writer of chat
    (senders' rows, then participants, then topic counters), so batches do not deadlock."""
    viewing = users_viewing_each({conversation_topic(s.conversation.pk) for s in sends})
    lessons = lessons_of_pairs([s.conversation for s in sends])
    outcomes: dict[int, Sent | ServiceError] = {}
    with transaction.atomic():
        active = _hold_senders({s.request.user.pk for s in sends})
        for send in sends:
            if send.request.user.pk not in active:  # erased or closed meanwhile
                outcomes[send.index] = Unauthorized("This account is closed.")
        sends = [s for s in sends if s.index not in outcomes]
        if not sends:
            return outcomes
        participants = _lock_participants({s.conversation.pk for s in sends})
        topics = {conversation_topic(s.conversation.pk) for s in sends}
        topics |= {user_topic(s.conversation.other(s.request.user.pk)) for s in sends}
        counters = lock_counters(topics)
        made, raced = _insert(sends)
        for send in sends:
            if send.key in raced:  # stored by another process a moment ago
                outcomes[send.index] = (raced[send.key], False)
            elif made[send.key][0] != send.index:  # the same client_id twice in this batch
                outcomes[send.index] = (made[send.key][1], False)
            else:
                outcomes[send.index] = (made[send.key][1], True)
        messages = [made[key][1] for key in made]
        if messages:
            events, notify = _count_and_tell(messages, participants, viewing, lessons)
            publish_many(events, counters=counters, also=_row_updates(messages, participants))
            for message in notify:
                message_notify(message, recipient_id=message.conversation.other(message.sender_id))
    return outcomes


def _count_and_tell(
    messages: list[Message],
    participants: dict[tuple[int, int], Participant],
    viewing: dict[str, set[int]],
    lessons: dict[tuple[int, int], list[dict[str, Any]]],
) -> tuple[list[tuple[str, str, Any]], list[Message]]:
    """Move both sides' markers and counts message by message, as single sends would;
    returns the events in order and the messages whose recipient gets a notification."""
    events: list[tuple[str, str, Any]] = []
    notify: dict[tuple[int, int], Message] = {}
    for message in messages:
        conversation, sender_id = message.conversation, message.sender_id
        other = conversation.other(sender_id)
        mine = participants[(conversation.pk, sender_id)]
        theirs = participants[(conversation.pk, other)]
        mine.last_read_message_id, mine.unread_count = message.pk, 0  # writing is reading
        theirs.unread_count += 1
        topic = conversation_topic(conversation.pk)
        events.append((topic, "message.created", message_data(message)))
        inbox = conversation_data(
            conversation,
            marker=theirs.last_read_message_id,
            unread=theirs.unread_count,
            last_message=message,
            lessons=lessons[(conversation.student_id, conversation.instructor_id)],
        )
        events.append((user_topic(other), "conversation.updated", inbox))
        if other not in viewing.get(topic, ()):
            notify.setdefault((conversation.pk, other), message)  # one until read
    return events, list(notify.values())


def _hold_senders(user_ids: set[int]) -> set[int]:
    """Share-lock the senders' rows (an erasure waits for the batch, or the batch for
    it) and return those still active."""
    table = User._meta.db_table
    with connection.cursor() as cursor:
        # The table name is the model's own, never input; values go as parameters.
        cursor.execute(
            f"SELECT id, is_active FROM {table}"  # nosec B608
            f" WHERE id IN ({placeholders(len(user_ids))}) ORDER BY id{row_lock('SHARE')}",
            sorted(user_ids),
        )
        return {user_id for user_id, is_active in cursor.fetchall() if is_active}


def _lock_participants(conversation_ids: set[int]) -> dict[tuple[int, int], Participant]:
    """Both sides of each conversation, locked in id order; by (conversation, user)."""
    rows = (
        Participant.objects.select_for_update()
        .filter(conversation_id__in=conversation_ids)
        .order_by("pk")
        .only("pk", "conversation_id", "user_id", "last_read_message_id", "unread_count")
    )
    return {(p.conversation_id, p.user_id): p for p in rows}


def _insert(
    sends: list[_Accepted],
) -> tuple[dict[Key, tuple[int, Message]], dict[Key, Message]]:
    """Insert the messages (the topics' counters are locked, so within a conversation
    message ids grow in commit order). Returns those made, with the index of the send
    that made each, and those a racing request from elsewhere stored first."""
    firsts: dict[Key, _Accepted] = {}
    for send in sends:
        firsts.setdefault(send.key, send)
    now = timezone.now()
    new_messages, params = rows_source(
        [("conversation_id", "bigint"), ("sender_id", "bigint"), ("body", "text"),
         ("client_id", "text")],
        [(s.conversation.pk, s.request.user.pk, s.body, s.client_id) for s in firsts.values()],
    )  # fmt: skip
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        # The table name is the model's own, never input; values go as parameters.
        # (`WHERE true` lets SQLite tell the ON CONFLICT clause from a join's.)
        cursor.execute(
            f"INSERT INTO {table} (conversation_id, sender_id, body, client_id, created_at)"  # nosec B608
            f" SELECT conversation_id, sender_id, body, client_id, %s FROM {new_messages}"
            " WHERE true ON CONFLICT (conversation_id, sender_id, client_id) DO NOTHING"
            " RETURNING id, conversation_id, sender_id, client_id",
            [now, *params],
        )
        ids = {(c, s, k): pk for pk, c, s, k in cursor.fetchall()}
    made: dict[Key, tuple[int, Message]] = {}
    for key, send in firsts.items():
        if key in ids:
            message = Message.from_db(
                None, MESSAGE_COLUMNS,
                [ids[key], send.conversation.pk, send.request.user.pk, send.body,
                 send.client_id, now, None, None],
            )  # fmt: skip
            message.conversation, message.sender = send.conversation, send.request.user
            made[key] = (send.index, message)
    made = dict(sorted(made.items(), key=lambda item: item[1][1].pk))  # in id order
    return made, _stored_messages(firsts.keys() - ids.keys())


def _row_updates(
    messages: list[Message], participants: dict[tuple[int, int], Participant]
) -> list[tuple[str, list[Any]]]:
    """Each conversation's last message and each participant's marker and count, once."""
    last = {message.conversation_id: message for message in messages}
    touched = [p for p in participants.values() if p.conversation_id in last]
    at = next(iter(last.values())).created_at  # one time for the batch
    lasts, last_params = rows_source(
        [("id", "bigint"), ("message_id", "bigint")], [(c, m.pk) for c, m in last.items()]
    )
    marks, mark_params = rows_source(
        [("id", "bigint"), ("marker", "bigint"), ("unread", "integer")],
        [(p.pk, p.last_read_message_id, p.unread_count) for p in touched],
    )
    conversations, people = Conversation._meta.db_table, Participant._meta.db_table
    # Table names are the models' own, never input; values go as parameters.
    return [
        (
            f"UPDATE {conversations} SET last_message_id = v.message_id,"  # nosec B608
            f" updated_at = %s FROM {lasts} WHERE {conversations}.id = v.id",
            [at, *last_params],
        ),
        (
            f"UPDATE {people} SET last_read_message_id = v.marker,"  # nosec B608
            f" unread_count = v.unread FROM {marks} WHERE {people}.id = v.id",
            [*mark_params],
        ),
    ]
