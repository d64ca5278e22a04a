"""Edits are limited like sends (their own bucket), over REST and the socket alike."""

import pytest

from chat.services import message_send

pytestmark = pytest.mark.django_db


def test_edits_past_the_burst_are_refused_and_change_nothing(
    settings, api, token_for, student, conversation
):
    settings.CHAT_MESSAGE_BURST = 3
    message, _ = message_send(user=student, conversation_id=conversation.pk, body="v0",
                              client_id="e")  # fmt: skip
    client = api(token_for(student))
    path = f"/api/v1/conversations/{conversation.pk}/messages/{message.pk}"
    for n in range(1, 4):
        assert client.call("patch", path, {"body": f"v{n}"}).status_code == 200
    refused = client.call("patch", path, {"body": "v4"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    message.refresh_from_db()
    assert message.body == "v3"
    # Sends have a bucket of their own: editing spent none of it.
    sent = client.call(
        "post",
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"body": "hi", "client_id": "s"},
    )
    assert sent.status_code == 201
