"""A new message leaves its recipient one notification per conversation until they read
it, unless they are looking at that conversation; over the socket and REST."""

import pytest
from channels.db import database_sync_to_async

from accounts.services import token_create
from chat.services import message_send, read_mark
from notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def tokens(*users):
    return [token_create(user=u)[1] for u in users]


@database_sync_to_async
def notices_of(user) -> list[tuple[str, dict, bool]]:
    rows = Notification.objects.filter(user=user).order_by("pk")
    return [(n.kind, n.data, n.read_at is not None) for n in rows]


async def send(client, topic: str, body: str) -> dict:
    reply = await client.call("publish", topic=topic, type="message.send",
                              data={"body": body, "client_id": body})  # fmt: skip
    assert reply["ok"], reply
    return reply["data"]["message"]


async def next_of(client, event_type: str) -> dict:
    while True:
        event = await client.recv()
        if event["type"] == event_type:
            return event


async def test_one_notification_per_conversation_until_read_then_a_new_one(
    connect, student, instructor, conversation
):
    student_token, instructor_token = await tokens(student, instructor)
    writer, reader = await connect(student_token), await connect(instructor_token)
    topic = f"conversation:{conversation.pk}"
    assert (await writer.call("subscribe", topic=topic))["ok"]
    assert (await reader.call("subscribe", topic=f"user:{instructor.pk}"))["ok"]

    first = await send(writer, topic, "Hello")
    created = await next_of(reader, "notification.created")
    assert created["data"]["kind"] == "message"
    assert created["data"]["data"] == {
        "conversation_id": conversation.pk, "message_id": first["id"],
        "sender": {"id": student.pk, "name": student.name},
    }  # fmt: skip
    assert (await next_of(reader, "notifications.unread"))["data"] == {"unread_count": 1}
    last = await send(writer, topic, "Are you there?")
    assert len(await notices_of(instructor)) == 1  # the second collapses into the first

    reply = await reader.call("publish", topic=topic, type="read",
                              data={"message_id": last["id"]})  # fmt: skip
    assert reply["ok"], reply
    assert (await next_of(reader, "notifications.unread"))["data"] == {"unread_count": 0}
    assert [read for _, _, read in await notices_of(instructor)] == [True]

    await send(writer, topic, "One more thing")
    assert [read for _, _, read in await notices_of(instructor)] == [True, False]
    assert await notices_of(student) == []  # nobody is told of their own messages


async def test_someone_looking_at_the_conversation_is_not_notified(
    connect, student, instructor, conversation
):
    student_token, instructor_token = await tokens(student, instructor)
    writer, reader = await connect(student_token), await connect(instructor_token)
    topic = f"conversation:{conversation.pk}"
    for client in (writer, reader):
        assert (await client.call("subscribe", topic=topic))["ok"]
    await send(writer, topic, "You see this live")
    assert await notices_of(instructor) == []

    await reader.close()  # they leave: the next message is waiting for them
    await send(writer, topic, "And this later")
    assert [kind for kind, _, _ in await notices_of(instructor)] == ["message"]


def test_a_rest_send_notifies_and_reading_over_rest_marks_it_read(
    as_student, as_instructor, instructor, conversation
):
    path = f"/api/v1/conversations/{conversation.pk}"
    sent = as_student.call("post", f"{path}/messages", {"body": "Hi", "client_id": "a"}).json()
    assert as_instructor.call("get", "/api/v1/me").json()["unread_notifications"] == 1
    as_instructor.call("post", f"{path}/read", {"message_id": sent["id"]})
    assert as_instructor.call("get", "/api/v1/me").json()["unread_notifications"] == 0


def test_reading_only_part_of_the_conversation_keeps_the_notification(
    student, instructor, conversation
):
    first, _ = message_send(user=student, conversation_id=conversation.pk, body="a", client_id="a")
    message_send(user=student, conversation_id=conversation.pk, body="b", client_id="b")
    read_mark(user=instructor, conversation_id=conversation.pk, message_id=first.pk)
    assert Notification.objects.get(user=instructor).read_at is None
