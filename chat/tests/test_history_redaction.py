"""An edited or deleted message's old text is gone from every stored event: replays, and
the log table itself, show the message only as it is now."""

import orjson
import pytest
from channels.db import database_sync_to_async

from accounts.services import token_create
from chat.services import message_delete, message_edit, message_send
from hub.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def log_text() -> str:
    """Every stored event's data, as one text to search."""
    return " ".join(
        orjson.dumps(data).decode() for data in Event.objects.values_list("data", flat=True)
    )


async def test_edits_and_deletes_leave_no_old_text_in_the_log(
    student, instructor, conversation, connect
):
    send = database_sync_to_async(message_send)
    first, _ = await send(user=student, conversation_id=conversation.pk, body="secret plan A",
                          client_id="m1")  # fmt: skip
    await send(user=student, conversation_id=conversation.pk, body="later", client_id="m2")
    await database_sync_to_async(message_send)(
        user=instructor, conversation_id=conversation.pk, body="reply", client_id="r1"
    )
    assert "secret plan A" in await database_sync_to_async(log_text)()  # the control

    await database_sync_to_async(message_edit)(
        user=student, conversation_id=conversation.pk, message_id=first.pk, body="plan B"
    )
    text = await database_sync_to_async(log_text)()
    assert "secret plan A" not in text and "plan B" in text

    await database_sync_to_async(message_delete)(
        user=student, conversation_id=conversation.pk, message_id=first.pk
    )
    text = await database_sync_to_async(log_text)()
    assert "plan B" not in text and "later" in text and "reply" in text

    # A client resuming from the start sees the message as it is now.
    token = await database_sync_to_async(lambda: token_create(user=instructor)[1])()
    client = await connect(token)
    topic = f"conversation:{conversation.pk}"
    position = (await client.call("subscribe", topic=topic))["data"]
    await client.call("unsubscribe", topic=topic)
    replay = await client.call("subscribe", topic=topic, since=0, epoch=position["epoch"])
    assert replay["data"]["recovered"] is True
    events = await client.events(position["seq"])
    about_first = [e for e in events if e.get("data", {}).get("id") == first.pk]
    assert about_first and all(e["data"]["body"] is None for e in about_first)
    assert all(e["data"]["deleted"] for e in about_first)
