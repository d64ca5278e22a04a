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


def recorded_connection_ids() -> set[str]:
    return set(Connection.objects.values_list("pk", flat=True))


async def connection_id(client) -> str:
    """The id the hub gave this socket (an `auth` without a token answers with it)."""
    return (await client.call("auth"))["data"]["connection_id"]


async def test_an_authenticated_socket_counts_as_online_until_it_closes(ws_user, connect):
    user, token = await ws_user()
    other, _ = await ws_user()
    assert await database_sync_to_async(users_connected)([user.pk, other.pk]) == set()
    first = await connect(token)
    second = await connect(token)  # two tabs
    first_id, second_id = await connection_id(first), await connection_id(second)
    assert await wait_until(lambda: recorded_connection_ids() == {first_id, second_id})
    assert await database_sync_to_async(users_connected)([user.pk, other.pk]) == {user.pk}
    await first.close()
    # The batch that records the first tab's close has run: still online through the other.
    assert await wait_until(lambda: recorded_connection_ids() == {second_id})
    assert await database_sync_to_async(users_connected)([user.pk]) == {user.pk}
    await second.close()
    assert await wait_until(lambda: users_connected([user.pk]) == set())
    assert await database_sync_to_async(Connection.objects.count)() == 0


async def test_a_connection_that_never_authenticates_is_not_recorded(ws_user, connect):
    _, token = await ws_user()
    await connect()  # opened, no auth
    authenticated = await connect(token)
    authenticated_id = await connection_id(authenticated)
    # Opened after the other, so once it is recorded every batch that could hold the other is.
    assert await wait_until(lambda: authenticated_id in recorded_connection_ids())
    assert await database_sync_to_async(recorded_connection_ids)() == {authenticated_id}


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
    from hub.revocation import close_revoked

    user, token = await ws_user()
    revoked_socket = await connect(token)
    (other_token,) = [await database_sync_to_async(lambda: token_create(user=user)[1])()]
    kept_socket = await connect(other_token)

    await close_revoked(Fanout.current().connections)  # what every presence renewal runs
    assert (await kept_socket.call("ping"))["ok"] and (await revoked_socket.call("ping"))["ok"]

    api_token = await database_sync_to_async(
        lambda: ApiToken.objects.filter(user=user).order_by("id").first()
    )()
    await database_sync_to_async(token_revoke)(api_token=api_token)
    await close_revoked(Fanout.current().connections)
    closed = await revoked_socket.comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4001}
    assert (await kept_socket.call("ping"))["ok"]  # the user's other token still works


async def test_a_password_change_or_an_expiry_closes_the_other_sockets_with_4001(ws_user, connect):
    from accounts.models import ApiToken
    from accounts.services import password_change, token_create
    from hub.fanout import Fanout
    from hub.revocation import close_revoked

    user, kept_token = await ws_user()
    kept = await connect(kept_token)
    other_token = await database_sync_to_async(lambda: token_create(user=user)[1])()
    other = await connect(other_token)
    third_token = await database_sync_to_async(lambda: token_create(user=user)[1])()
    expiring = await connect(third_token)

    @database_sync_to_async
    def change_password_and_expire_one() -> None:
        keep, third = ApiToken.objects.filter(user=user).order_by("id")[::2]
        ApiToken.objects.filter(pk=third.pk).update(expires_at=timezone.now())
        password_change(
            user=user,
            current_password="correct-horse-battery-9",
            new_password="another-long-passphrase-3",
            keep=keep,
        )

    await change_password_and_expire_one()
    await close_revoked(Fanout.current().connections)
    for closed in (other, expiring):
        assert await closed.comm.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": 4001,
        }
    assert (await kept.call("ping"))["ok"]
