"""The connection registry: who is online, seen from any process through the database."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from hub.models import Connection, ServerProcess
from hub.registry import connections_record, processes_prune, users_connected

pytestmark = pytest.mark.django_db(transaction=True)


async def wait_until(check, timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await database_sync_to_async(check)():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_an_authenticated_socket_counts_as_online_until_it_closes(ws_user, connect):
    user, token = await ws_user()
    other, _ = await ws_user()
    assert await database_sync_to_async(users_connected)([user.pk, other.pk]) == set()
    first = await connect(token)
    second = await connect(token)  # two tabs
    assert await wait_until(lambda: users_connected([user.pk, other.pk]) == {user.pk})
    await first.close()
    # A batch later (the first tab's row is gone): still online through the other tab.
    assert await wait_until(lambda: Connection.objects.count() == 1)
    assert await database_sync_to_async(users_connected)([user.pk]) == {user.pk}
    await second.close()
    assert await wait_until(lambda: users_connected([user.pk]) == set())
    assert await database_sync_to_async(Connection.objects.count)() == 0


async def test_a_connection_that_never_authenticates_is_not_recorded(ws_user, connect):
    user, token = await ws_user()
    await connect()  # opened, no auth
    await connect(token)  # recorded by the next batch, which would carry the other one too
    assert await wait_until(lambda: Connection.objects.exists())
    recorded = await database_sync_to_async(
        lambda: list(Connection.objects.values_list("user_id", flat=True))
    )()
    assert recorded == [user.pk]


def test_a_dead_process_stops_counting_and_is_pruned(make_user):
    user = make_user()
    connections_record(process_id="p-dead", opened={"c1": user.pk}, closed=[], heartbeat=True)
    connections_record(process_id="p-live", opened={}, closed=[], heartbeat=True)
    assert users_connected([user.pk]) == {user.pk}
    ServerProcess.objects.filter(pk="p-dead").update(renewed_at=timezone.now() - timedelta(hours=1))
    assert users_connected([user.pk]) == set()
    assert processes_prune() == 1
    assert list(ServerProcess.objects.values_list("pk", flat=True)) == ["p-live"]
    assert Connection.objects.count() == 0


def test_recording_a_batch_twice_changes_nothing(make_user):
    user = make_user()
    for _ in range(2):
        connections_record(process_id="p", opened={"c1": user.pk}, closed=[], heartbeat=False)
    assert Connection.objects.count() == 1
    for _ in range(2):
        connections_record(process_id="p", opened={}, closed=["c1"], heartbeat=False)
    assert users_connected([user.pk]) == set()


async def test_a_revoked_token_closes_its_open_sockets_with_4001(ws_user, connect):
    from accounts.models import ApiToken
    from accounts.services import token_create, token_revoke
    from hub.fanout import Fanout

    user, token = await ws_user()
    revoked_socket = await connect(token)
    (other_token,) = [await database_sync_to_async(lambda: token_create(user=user)[1])()]
    kept_socket = await connect(other_token)

    await Fanout.current().close_revoked()  # what every presence renewal runs
    assert (await kept_socket.call("ping"))["ok"] and (await revoked_socket.call("ping"))["ok"]

    api_token = await database_sync_to_async(
        lambda: ApiToken.objects.filter(user=user).order_by("id").first()
    )()
    await database_sync_to_async(token_revoke)(api_token=api_token)
    await Fanout.current().close_revoked()
    closed = await revoked_socket.comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4001}
    assert (await kept_socket.call("ping"))["ok"]  # the user's other token still works
