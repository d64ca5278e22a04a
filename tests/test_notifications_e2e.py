"""Notifications end to end on a live daphne: a message to someone away leaves one,
pushed live; someone looking at the conversation gets none, whether the message came
over the socket or over REST (a view runs on the server's thread, presence on its loop)."""

import asyncio

import pytest

from accounts.services import token_create, user_create
from chat.services import conversation_open
from hub.client import HubClient
from tests.helpers import http_json
from tests.live import daphne_command, free_port, running, server_env
from tests.test_chat_e2e import Inbox

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_message_notifies_only_someone_not_looking_over_the_socket_and_rest():
    password = "correct-horse-battery-9"
    student = user_create(email="a@example.com", password=password, name="Ana", role="student")
    teacher = user_create(email="b@example.com", password=password, name="Ben",
                          role="instructor")  # fmt: skip
    conversation = conversation_open(user=student, participant_id=teacher.pk)[0]
    a_token, b_token = token_create(user=student)[1], token_create(user=teacher)[1]
    topic, b_user = f"conversation:{conversation.pk}", f"user:{teacher.pk}"
    port = free_port()
    base, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws/v1/"
    messages = f"{base}/api/v1/conversations/{conversation.pk}/messages"

    def rest_send(body: str) -> dict:
        status, sent = http_json(messages, {"body": body, "client_id": body}, token=a_token)
        assert status == 201, sent
        return sent

    def unread() -> int:
        return http_json(f"{base}/api/v1/me", token=b_token)[1]["unread_notifications"]

    with running(daphne_command(port), server_env(), wait_url=f"{base}/healthz"):

        async def scenario():
            async with HubClient(url, a_token) as a, HubClient(url, b_token) as b_client:
                b = Inbox(b_client)
                await a.subscribe(topic)
                await b_client.subscribe(b_user)
                # Away from the conversation: one notification, pushed live.
                sent = await a.publish(topic, "message.send", {"body": "hi", "client_id": "s1"})
                created = await b.next(b_user, "notification.created")
                assert created.data["kind"] == "message"
                assert created.data["data"]["message_id"] == sent["message"]["id"]
                assert (await b.next(b_user, "notifications.unread")).data == {"unread_count": 1}

                # Looking at it: reading clears it, and new messages leave nothing.
                await b_client.subscribe(topic)
                await b_client.publish(topic, "read", {"message_id": sent["message"]["id"]})
                assert (await b.next(b_user, "notifications.unread")).data == {"unread_count": 0}
                await a.publish(topic, "message.send", {"body": "seen", "client_id": "s2"})
                await asyncio.to_thread(rest_send, "seen too")
                for _ in range(2):
                    await b.next(topic, "message.created")
                assert await asyncio.to_thread(unread) == 0

                # Away again: a REST send notifies.
                await b_client.unsubscribe(topic)
                await asyncio.to_thread(rest_send, "are you there?")
                created = await b.next(b_user, "notification.created")
                assert created.data["data"]["sender"] == {"id": student.pk, "name": "Ana"}
                assert await asyncio.to_thread(unread) == 1

        asyncio.run(scenario())
