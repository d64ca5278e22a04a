"""A student and an instructor (the root conftest's) with their conversation."""

import pytest

from chat.services import conversation_open


@pytest.fixture
def conversation(student, instructor):
    return conversation_open(user=student, participant_id=instructor.pk)[0]
