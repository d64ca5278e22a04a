"""A student and an instructor with their conversation."""

import contextlib

import pytest

from chat.services import conversation_open
from hub.tests.conftest import Client


@pytest.fixture
def student(make_user):
    return make_user("student")


@pytest.fixture
def instructor(make_user):
    return make_user("instructor")


@pytest.fixture
def conversation(student, instructor):
    return conversation_open(user=student, participant_id=instructor.pk)[0]


@pytest.fixture
async def connect():
    opened: list[Client] = []

    async def make(token: str) -> Client:
        client = await Client().open(token)
        opened.append(client)
        return client

    yield make
    for client in opened:
        with contextlib.suppress(Exception):
            await client.close()
