"""Sends stored together (chat.sending): each request keeps every guarantee of a single
send, and one batch's trouble is only the request's that caused it."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from accounts.services import token_create
from chat.models import Message, Participant
from chat.rules import send_rate
from chat.sending import SendRequest, messages_send
from chat.services import conversation_open
from conventions.errors import Invalid, NotFound, RateLimited, Unauthorized
from conventions.ratelimit import buckets
from hub.models import Event
from notifications.models import Notification
from tests.helpers import events_on

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(make_user, instructor):
    students = [make_user("student") for _ in range(4)]
    conversations = [conversation_open(user=s, participant_id=instructor.pk)[0] for s in students]
    return students, conversations


def test_one_batch_keeps_each_requests_own_outcome_and_every_count(people, instructor):
    (s1, s2, s3, s4), (c1, c2, c3, c4) = people
    s4.is_active = False  # closed (erased) since it connected
    s4.save(update_fields=["is_active"])
    while buckets().take(f"chat.send:{s3.pk}", send_rate(), cost=1000) <= 0:
        pass  # s3 has spent every token
    outcomes = messages_send(
        [
            SendRequest(s1, c1.pk, "a", "1"),
            SendRequest(s2, c2.pk, "b", "1"),
            SendRequest(s1, c1.pk, "c", "2"),
            SendRequest(s1, c1.pk, "a again", "1"),  # the same client_id in the same batch
            SendRequest(instructor, c1.pk, "reply", "r"),
            SendRequest(s2, c1.pk, "not mine", "x"),  # not a participant of c1
            SendRequest(s2, c2.pk, "", "2"),  # invalid
            SendRequest(s3, c3.pk, "spent", "1"),  # rate-limited
            SendRequest(s4, c4.pk, "closed", "1"),
        ]
    )
    a, b, c, again, reply = outcomes[:5]
    assert [created for _, created in (a, b, c, again, reply)] == [True, True, True, False, True]
    assert again[0].pk == a[0].pk
    assert isinstance(outcomes[5], NotFound)
    assert isinstance(outcomes[6], Invalid)
    assert isinstance(outcomes[7], RateLimited) and outcomes[7].retry_after > 0
    assert isinstance(outcomes[8], Unauthorized)
    bodies = list(Message.objects.order_by("pk").values_list("body", flat=True))
    assert bodies == ["a", "b", "c", "reply"]  # stored in request order, nothing else

    # c1's log: its three messages, gapless, in id order.
    created = [d for t, d in events_on(f"conversation:{c1.pk}") if t == "message.created"]
    assert [d["body"] for d in created] == ["a", "c", "reply"]
    seqs = Event.objects.filter(topic__name=f"conversation:{c1.pk}").order_by("seq")
    assert [e.seq for e in seqs] == [1, 2, 3]
    # The instructor's inbox heard each student message with the count as it grew.
    inbox = [
        (d["id"], d["unread_count"], d["last_message"]["body"])
        for t, d in events_on(f"user:{instructor.pk}")
        if t == "conversation.updated"
    ]
    assert inbox == [(c1.pk, 1, "a"), (c2.pk, 1, "b"), (c1.pk, 2, "c")]
    s1_inbox = [d for t, d in events_on(f"user:{s1.pk}") if t == "conversation.updated"]
    assert [(d["unread_count"], d["last_read_message_id"]) for d in s1_inbox] == [(1, c[0].pk)]

    rows = {(p.conversation_id, p.user_id): p for p in Participant.objects.all()}
    assert (rows[(c1.pk, instructor.pk)].last_read_message_id,
            rows[(c1.pk, instructor.pk)].unread_count) == (reply[0].pk, 0)  # fmt: skip
    assert (rows[(c1.pk, s1.pk)].last_read_message_id,
            rows[(c1.pk, s1.pk)].unread_count) == (c[0].pk, 1)  # fmt: skip
    assert rows[(c2.pk, instructor.pk)].unread_count == 1
    c1.refresh_from_db()
    assert c1.last_message_id == reply[0].pk
    # One notification per conversation until read (nobody was looking: no server here).
    notices = sorted(Notification.objects.values_list("user_id", "data__conversation_id"))
    assert notices == sorted([(instructor.pk, c1.pk), (instructor.pk, c2.pk), (s1.pk, c1.pk)])


def test_a_repeat_of_a_stored_message_is_answered_from_the_store(people):
    (s1, *_), (c1, *_) = people
    ((first, created),) = messages_send([SendRequest(s1, c1.pk, "hi", "k")])
    ((again, created_again),) = messages_send([SendRequest(s1, c1.pk, "changed", "k")])
    assert created and not created_again and again.pk == first.pk and again.body == "hi"
    assert len(events_on(f"conversation:{c1.pk}")) == 1


async def test_sends_at_once_over_sockets_are_committed_together_in_order(
    connect, people, instructor, make_user
):
    """Twenty students write to one instructor at the same instant: fewer transactions
    than messages, and the instructor's inbox topic is gapless, each event once."""
    students = [await database_sync_to_async(make_user)("student") for _ in range(20)]

    @database_sync_to_async
    def setup():
        pairs = [conversation_open(user=s, participant_id=instructor.pk)[0] for s in students]
        return pairs, [token_create(user=u)[1] for u in [instructor, *students]]

    conversations, (teacher_token, *student_tokens) = await setup()
    teacher = await connect(teacher_token)
    inbox = await teacher.call("subscribe", topic=f"user:{instructor.pk}")
    start = inbox["data"]["seq"]
    sockets = [await connect(token) for token in student_tokens]
    replies = await asyncio.gather(
        *(
            s.call(
                "publish",
                topic=f"conversation:{c.pk}",
                type="message.send",
                data={"body": f"hello {n}", "client_id": "one"},
            )
            for n, (s, c) in enumerate(zip(sockets, conversations, strict=True))
        )
    )
    assert all(reply["ok"] for reply in replies)
    events, heard = [], []  # every event of the topic; its inbox rows
    while len(heard) < len(students):
        events.append(await teacher.recv())
        if events[-1]["type"] == "conversation.updated":
            heard.append(events[-1])
    assert [e["seq"] for e in events] == list(range(start + 1, start + 1 + len(events)))
    assert sorted(e["data"]["last_message"]["body"] for e in heard) == sorted(
        f"hello {n}" for n in range(len(students))
    )

    @database_sync_to_async
    def commits() -> int:
        # A batch's messages share one creation time: fewer times than messages.
        return Message.objects.values("created_at").distinct().count()

    assert await commits() < len(students)
