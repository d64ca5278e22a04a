"""The connection layer of the protocol: auth, ping, frames, origins, close codes."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from accounts.services import token_create, token_revoke, user_create
from config.asgi import application
from hub import consumer

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def make_user_and_token(email="ws@example.com"):
    user = user_create(email=email, password="correct-horse-battery-9", name="W")
    api_token, token = token_create(user=user)
    return user, api_token, token


def connect(headers=None) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/v1/", headers=headers or [])


async def send(comm, frame) -> dict:
    await comm.send_to(text_data=json.dumps(frame))
    return json.loads(await comm.receive_from(timeout=5))


async def test_auth_with_token_then_ping():
    user, _, token = await make_user_and_token()
    comm = connect()
    connected, _ = await comm.connect()
    assert connected
    reply = await send(comm, {"op": "auth", "token": token, "ref": 1})
    assert reply["op"] == "reply" and reply["ok"] is True and reply["ref"] == 1
    assert reply["data"]["user_id"] == user.pk
    assert len(reply["data"]["connection_id"]) == 32
    assert await send(comm, {"op": "ping", "ref": "p"}) == {
        "op": "reply",
        "ok": True,
        "data": {},
        "ref": "p",
    }
    await comm.disconnect()


async def test_ping_is_allowed_before_auth_and_reply_without_ref_has_none():
    comm = connect()
    await comm.connect()
    assert await send(comm, {"op": "ping"}) == {"op": "reply", "ok": True, "data": {}}
    await comm.disconnect()


@pytest.mark.parametrize("token", ["hub_wrong", "", None, 12, "x" * 300])
async def test_bad_token_gets_error_reply_then_4001(token):
    comm = connect()
    await comm.connect()
    reply = await send(comm, {"op": "auth", "token": token, "ref": 9})
    assert reply == {
        "op": "reply",
        "ok": False,
        "ref": 9,
        "error": {"code": "unauthorized", "message": "Invalid token."},
    }
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4001}


async def test_revoked_token_is_refused():
    _, api_token, token = await make_user_and_token()
    await database_sync_to_async(token_revoke)(api_token=api_token)
    comm = connect()
    await comm.connect()
    assert (await send(comm, {"op": "auth", "token": token}))["error"]["code"] == "unauthorized"
    assert (await comm.receive_output(timeout=5))["code"] == 4001


async def test_other_ops_before_auth_are_unauthorized_and_connection_stays():
    comm = connect()
    await comm.connect()
    reply = await send(comm, {"op": "subscribe", "topic": "user:1", "ref": 3})
    assert reply["ok"] is False and reply["ref"] == 3
    assert reply["error"]["code"] == "unauthorized"
    assert (await send(comm, {"op": "ping"}))["ok"] is True
    await comm.disconnect()


async def test_unauthenticated_connection_is_closed_after_the_deadline(monkeypatch):
    monkeypatch.setattr(consumer, "AUTH_DEADLINE_SECONDS", 0.2)
    comm = connect()
    await comm.connect()
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4001}


async def test_authenticated_connection_outlives_the_deadline(monkeypatch):
    monkeypatch.setattr(consumer, "AUTH_DEADLINE_SECONDS", 0.2)
    _, _, token = await make_user_and_token()
    comm = connect()
    await comm.connect()
    assert (await send(comm, {"op": "auth", "token": token}))["ok"]
    assert await comm.receive_nothing(timeout=0.5)
    assert (await send(comm, {"op": "ping"}))["ok"]
    await comm.disconnect()


async def test_session_cookie_authenticates_without_auth_frame():
    user, _, _ = await make_user_and_token()

    @database_sync_to_async
    def login_session() -> str:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        return session.session_key

    key = await login_session()
    comm = connect([(b"cookie", f"sessionid={key}".encode())])
    await comm.connect()
    reply = await send(comm, {"op": "subscribe", "topic": f"user:{user.pk}", "ref": 1})
    assert reply["ok"] is True and reply["data"]["topic"] == f"user:{user.pk}"
    # `auth` on a session connection repeats who it is.
    reply = await send(comm, {"op": "auth", "ref": 2})
    assert reply["ok"] and reply["data"]["user_id"] == user.pk
    await comm.disconnect()


@pytest.mark.parametrize(
    "text", ["not json", "[1, 2]", '"just a string"', "{}", '{"op": 5}', '{"op": ""}']
)
async def test_frames_without_an_op_get_an_error_frame_and_connection_stays(text):
    comm = connect()
    await comm.connect()
    await comm.send_to(text_data=text)
    frame = json.loads(await comm.receive_from(timeout=5))
    assert frame["op"] == "error"
    assert frame["error"]["code"] == "bad_request"
    assert "ref" not in frame
    assert (await send(comm, {"op": "ping"}))["ok"]
    await comm.disconnect()


async def test_unknown_op_gets_a_reply_with_its_ref():
    _, _, token = await make_user_and_token()
    comm = connect()
    await comm.connect()
    await send(comm, {"op": "auth", "token": token})
    reply = await send(comm, {"op": "dance", "ref": "r1"})
    assert reply["ref"] == "r1" and reply["ok"] is False
    assert reply["error"]["code"] == "bad_request"
    await comm.disconnect()


@pytest.mark.parametrize("ref", ["x" * 65, 1.5, True, {"a": 1}, [1]])
async def test_bad_ref_is_refused(ref):
    comm = connect()
    await comm.connect()
    reply = await send(comm, {"op": "ping", "ref": ref})
    assert reply["ok"] is False and "ref" not in reply
    assert reply["error"]["code"] == "bad_request"
    await comm.disconnect()


async def test_ref_of_64_characters_is_echoed():
    comm = connect()
    await comm.connect()
    assert (await send(comm, {"op": "ping", "ref": "x" * 64}))["ref"] == "x" * 64
    await comm.disconnect()


async def test_binary_frame_closes_with_1003():
    comm = connect()
    await comm.connect()
    await comm.send_to(bytes_data=b"\x00\x01")
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 1003}


async def test_frame_over_64_kib_closes_with_1009_and_exactly_64_kib_is_fine():
    comm = connect()
    await comm.connect()
    exact = json.dumps({"op": "ping", "pad": ""})
    exact = exact[:-2] + "x" * (65_536 - len(exact)) + '"}'
    assert len(exact.encode()) == 65_536
    assert (await send(comm, json.loads(exact)))["ok"]
    await comm.send_to(text_data=exact[:-2] + "é" + '"}')
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 1009}


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (None, True),
        ("http://localhost:8000", True),
        ("http://testserver", True),
        ("https://evil.example.com", False),
        ("null", False),
    ],
)
async def test_origin_check(origin, accepted):
    headers = [(b"origin", origin.encode())] if origin else []
    comm = connect(headers)
    connected, _ = await comm.connect()
    assert connected
    if accepted:
        assert (await send(comm, {"op": "ping"}))["ok"]
        await comm.disconnect()
    else:
        assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 1008}
