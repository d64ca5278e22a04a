"""Races against the real PostgreSQL: one client_id sent twice at once, one pair opened twice."""

import pytest

from chat.models import Conversation, Message
from chat.services import conversation_open, message_send
from tests.helpers import events_on, race

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_concurrent_sends_with_one_client_id_make_one_row_and_one_event(student, conversation):
    def send():
        message, created = message_send(
            user=student, conversation_id=conversation.pk, body="twice?", client_id="same"
        )
        return message.pk, created

    for _ in range(5):  # a few rounds: each is a fresh race
        Message.objects.all().delete()
        results = race([send, send])
        assert len({pk for pk, _ in results}) == 1
        assert sorted(created for _, created in results) == [False, True]
    assert Message.objects.count() == 1
    created = [t for t, _ in events_on(f"conversation:{conversation.pk}")]
    assert created == ["message.created"] * 5  # one per round, never two


def test_both_sides_opening_at_once_get_one_conversation(student, instructor):
    results = race(
        [
            lambda: conversation_open(user=student, participant_id=instructor.pk)[0].pk,
            lambda: conversation_open(user=student, participant_id=instructor.pk)[0].pk,
        ]
    )
    assert len(set(results)) == 1
    assert Conversation.objects.count() == 1
