"""Chat end to end: two real clients on a live daphne with PostgreSQL and Redis."""

import asyncio

import pytest

from accounts.services import token_create, user_create
from chat.services import conversation_open
from hub.client import Event, HubClient
from tests.live import daphne_command, free_port, running, server_env

pytestmark = pytest.mark.django_db(transaction=True)


class Inbox:
    """A client's events kept in arrival order, so waiting for one kind loses no other."""

    def __init__(self, client: HubClient):
        self.client, self.kept = client, []

    async def next(self, topic: str, type_: str, timeout: float = 10) -> Event:
        while True:
            for index, event in enumerate(self.kept):
                if event.topic == topic and event.type == type_:
                    return self.kept.pop(index)
            event = await self.client.next_event(timeout)
            if isinstance(event, Event):
                self.kept.append(event)


def test_two_people_chat_live_and_a_reconnecting_reader_misses_nothing():
    password = "correct-horse-battery-9"
    student = user_create(email="a@example.com", password=password, name="Ana", role="student")
    teacher = user_create(email="b@example.com", password=password, name="Ben",
                          role="instructor")  # fmt: skip
    conversation = conversation_open(user=student, participant_id=teacher.pk)[0]
    a_token, b_token = token_create(user=student)[1], token_create(user=teacher)[1]
    topic, b_inbox = f"conversation:{conversation.pk}", f"user:{teacher.pk}"
    port = free_port()
    url = f"ws://127.0.0.1:{port}/ws/v1/"

    env = server_env(CHAT_MESSAGE_BURST="50")  # A sends 25 in a row
    with running(daphne_command(port), env, wait_url=f"http://127.0.0.1:{port}/healthz"):

        async def scenario():
            async with HubClient(url, a_token) as a_client, HubClient(url, b_token) as b:
                a, b_events = Inbox(a_client), Inbox(b)
                await a_client.subscribe(topic)
                await b.subscribe(topic)
                await b.subscribe(b_inbox)
                for n in range(3):
                    await a_client.publish(
                        topic, "message.send", {"body": f"hi {n}", "client_id": f"a{n}"}
                    )
                got = [await b_events.next(topic, "message.created") for _ in range(3)]
                assert [e.data["body"] for e in got] == ["hi 0", "hi 1", "hi 2"]
                inbox = [await b_events.next(b_inbox, "conversation.updated") for _ in range(3)]
                assert [e.data["unread_count"] for e in inbox] == [1, 2, 3]

                # B reads and types; A hears both.
                await b.publish(topic, "read", {"message_id": got[-1].data["id"]})
                read = await a.next(topic, "read")
                assert read.data == {"user_id": teacher.pk, "message_id": got[-1].data["id"]}
                await b.publish(topic, "typing", {})
                typing = await a.next(topic, "typing")
                assert typing.data == {"user_id": teacher.pk} and typing.seq is None

                # B goes away; A sends 20; B comes back with `since` and gets exactly those.
                position = b.positions[topic]
                seen_seq, epoch = position.seq, position.epoch
                await b.close()
                for n in range(20):
                    await a_client.publish(
                        topic, "message.send", {"body": f"m{n}", "client_id": f"m{n}"}
                    )
                async with HubClient(url, b_token) as back_client:
                    back = Inbox(back_client)
                    reply = await back_client.request(
                        "subscribe", topic=topic, since=seen_seq, epoch=epoch
                    )
                    assert reply["recovered"] is True
                    replayed = [await back.next(topic, "message.created") for _ in range(20)]
                    assert [e.data["body"] for e in replayed] == [f"m{n}" for n in range(20)]
                    assert [e.seq for e in replayed] == list(range(seen_seq + 1, seen_seq + 21))
                    # Then live again, with no duplicate across the seam.
                    await a_client.publish(
                        topic, "message.send", {"body": "live", "client_id": "live"}
                    )
                    live = await back.next(topic, "message.created")
                    assert (live.data["body"], live.seq) == ("live", seen_seq + 21)
                    await back_client.subscribe(b_inbox)
                    await a_client.publish(
                        topic, "message.send", {"body": "count", "client_id": "c"}
                    )
                    update = await back.next(b_inbox, "conversation.updated")
                    assert update.data["unread_count"] == 22  # 20 + "live" + "count"

        asyncio.run(scenario())
