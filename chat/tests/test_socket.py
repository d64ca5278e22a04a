"""Chat over the live protocol: conversation topics, every publish type, presence."""

import pytest
from channels.db import database_sync_to_async

from accounts.services import token_create
from chat.models import Message
from chat.services import message_send

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def tokens(*users):
    return [token_create(user=u)[1] for u in users]


async def durable(client, count: int = 1) -> list[dict]:
    """The next `count` events other than presence, which every subscriber also sees."""
    found = []
    while len(found) < count:
        event = await client.recv()
        if not event["type"].startswith("presence."):
            found.append(event)
    return found


async def open_pair(connect, student, instructor, conversation):
    student_token, instructor_token = await tokens(student, instructor)
    a, b = await connect(student_token), await connect(instructor_token)
    topic = f"conversation:{conversation.pk}"
    return a, b, topic


async def test_participants_subscribe_with_presence_and_outsiders_are_refused(
    connect, student, instructor, conversation, make_user
):
    a, b, topic = await open_pair(connect, student, instructor, conversation)
    first = await a.call("subscribe", topic=topic)
    assert first["ok"] and first["data"]["presence"] == [student.pk]
    second = await b.call("subscribe", topic=topic)
    assert sorted(second["data"]["presence"]) == sorted([student.pk, instructor.pk])
    joins = [await a.recv() for _ in range(2)]  # its own join first, then the other's
    assert [(e["type"], e["data"]["user_id"]) for e in joins] == [
        ("presence.join", student.pk), ("presence.join", instructor.pk),
    ]  # fmt: skip

    (outsider_token,) = await tokens(await database_sync_to_async(make_user)("student"))
    outsider = await connect(outsider_token)
    for name in (topic, "conversation:999999"):
        refused = await outsider.call("subscribe", topic=name)
        assert refused["error"]["code"] == "forbidden"
    sneaky = await outsider.call("publish", topic=topic, type="message.send",
                                 data={"body": "hi", "client_id": "x"})  # fmt: skip
    assert sneaky["error"]["code"] == "forbidden"

    await b.close()
    left = await a.recv()
    assert (left["type"], left["data"]) == ("presence.leave", {"user_id": instructor.pk})


async def test_send_over_the_socket_emits_what_rest_emits(
    connect, api, student, instructor, conversation
):
    a, b, topic = await open_pair(connect, student, instructor, conversation)
    await b.call("subscribe", topic=topic)
    await b.call("subscribe", topic=f"user:{instructor.pk}")
    reply = await a.call("publish", topic=topic, type="message.send",
                         data={"body": " over the socket ", "client_id": "s-1"})  # fmt: skip
    assert reply["ok"], reply
    sent = reply["data"]["message"]
    assert sent["body"] == "over the socket" and sent["sender_id"] == student.pk
    events = {e["type"]: e for e in await durable(b, 2)}
    assert events["message.created"]["data"] == sent
    assert events["conversation.updated"]["data"]["unread_count"] == 1

    (student_token,) = await tokens(student)
    client = api(student_token)
    response = await database_sync_to_async(client.call)(
        "post", f"/api/v1/conversations/{conversation.pk}/messages",
        {"body": "over REST", "client_id": "r-1"},
    )  # fmt: skip
    events = {e["type"]: e for e in await durable(b, 2)}
    assert events["message.created"]["data"] == response.json()
    assert events["conversation.updated"]["data"]["unread_count"] == 2
    assert set(events["message.created"]) == {"op", "topic", "seq", "type", "data", "ts"}

    again = await a.call("publish", topic=topic, type="message.send",
                         data={"body": "over the socket", "client_id": "s-1"})  # fmt: skip
    assert again["data"]["message"] == sent
    assert await b.nothing()


@pytest.mark.parametrize(
    "type_, data, code",
    [
        ("message.send", {"body": "", "client_id": "x"}, "bad_request"),
        ("message.send", {"body": "x" * 4001, "client_id": "x"}, "bad_request"),
        ("message.send", {"body": "hi"}, "bad_request"),
        ("message.send", {"body": 5, "client_id": "x"}, "bad_request"),
        ("message.edit", {"message_id": 999999, "body": "x"}, "not_found"),
        ("message.edit", {"message_id": "1", "body": "x"}, "bad_request"),
        ("message.delete", {}, "bad_request"),
        ("read", {"message_id": 999999}, "not_found"),
        ("shout", {}, "not_found"),
    ],
)
async def test_bad_publishes_get_an_error_and_change_nothing(
    connect, student, instructor, conversation, type_, data, code
):
    a, _, topic = await open_pair(connect, student, instructor, conversation)
    reply = await a.call("publish", topic=topic, type=type_, data=data)
    assert not reply["ok"] and reply["error"]["code"] == code, reply
    assert await database_sync_to_async(Message.objects.count)() == 0
    assert (await a.call("ping"))["ok"]  # the connection lives on


async def test_edit_delete_and_read_over_the_socket(connect, student, instructor, conversation):
    a, b, topic = await open_pair(connect, student, instructor, conversation)
    await a.call("subscribe", topic=topic)
    message, _ = await database_sync_to_async(message_send)(
        user=student, conversation_id=conversation.pk, body="draft", client_id="d"
    )
    assert (await durable(a))[0]["type"] == "message.created"
    not_mine = await b.call("publish", topic=topic, type="message.edit",
                            data={"message_id": message.pk, "body": "x"})  # fmt: skip
    assert not_mine["error"]["code"] == "forbidden"
    edited = await a.call("publish", topic=topic, type="message.edit",
                          data={"message_id": message.pk, "body": "final"})  # fmt: skip
    assert edited["data"]["message"]["body"] == "final"
    assert (await durable(a))[0]["type"] == "message.edited"
    read = await b.call("publish", topic=topic, type="read", data={"message_id": message.pk})
    assert read["ok"]
    (event,) = await durable(a)
    assert (event["type"], event["data"]) == (
        "read", {"user_id": instructor.pk, "message_id": message.pk},
    )  # fmt: skip
    deleted = await a.call("publish", topic=topic, type="message.delete",
                           data={"message_id": message.pk})  # fmt: skip
    assert deleted == {"op": "reply", "ok": True, "data": {}, "ref": deleted["ref"]}
    (event,) = await durable(a)
    assert (event["type"], event["data"]["deleted"], event["data"]["body"]) == (
        "message.deleted", True, None,
    )  # fmt: skip


async def test_typing_reaches_the_other_side_at_most_once_per_interval(
    connect, student, instructor, conversation
):
    a, b, topic = await open_pair(connect, student, instructor, conversation)
    await b.call("subscribe", topic=topic)
    for _ in range(3):
        reply = await a.call("publish", topic=topic, type="typing", data={})
        assert reply["ok"] and reply["data"] == {}
    (event,) = await durable(b)
    assert (event["type"], event["data"], "seq" in event) == (
        "typing", {"user_id": student.pk}, False,
    )  # fmt: skip
    assert await b.nothing(0.5)


async def test_the_socket_and_rest_share_one_rate_limit(
    connect, api, student, instructor, conversation, settings
):
    settings.CHAT_MESSAGE_RATE_PER_MINUTE = 6  # no refill while the burst is spent
    a, _, topic = await open_pair(connect, student, instructor, conversation)
    (student_token,) = await tokens(student)
    client = api(student_token)
    for n in range(5):
        response = await database_sync_to_async(client.call)(
            "post", f"/api/v1/conversations/{conversation.pk}/messages",
            {"body": "rest", "client_id": f"r{n}"},
        )  # fmt: skip
        assert response.status_code == 201
    for n in range(5):
        reply = await a.call("publish", topic=topic, type="message.send",
                             data={"body": "ws", "client_id": f"w{n}"})  # fmt: skip
        assert reply["ok"]
    refused = await a.call("publish", topic=topic, type="message.send",
                           data={"body": "one too many", "client_id": "w5"})  # fmt: skip
    assert refused["error"]["code"] == "rate_limited"
    assert refused["error"]["retry_after"] > 0
    assert await database_sync_to_async(Message.objects.count)() == 10
