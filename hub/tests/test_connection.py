"""The connection layer of the protocol: auth, ping, frames, origins, close codes."""

import json
import time

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


@database_sync_to_async
def login_session(user) -> str:
    """A signed-in session, as Django's login makes it; returns its key."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


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


async def test_a_token_check_slower_than_the_auth_deadline_still_authenticates(monkeypatch):
    # In a reconnect storm the check may wait its turn longer than the deadline (which is
    # for sockets that never send auth): the socket is answered, not closed with 4001.
    user, _, token = await make_user_and_token()
    check = consumer.token_authenticate

    def slow_check(**kwargs):
        time.sleep(0.4)
        return check(**kwargs)

    monkeypatch.setattr(consumer, "token_authenticate", slow_check)
    monkeypatch.setattr(consumer, "AUTH_DEADLINE_SECONDS", 0.1)
    comm = connect()
    assert (await comm.connect())[0]
    reply = await send(comm, {"op": "auth", "token": token, "ref": 1})
    assert reply["ok"] and reply["data"]["user_id"] == user.pk
    assert await comm.receive_nothing(timeout=0.3)  # still open: no close frame
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

    key = await login_session(user)
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


APP = {"WEBSOCKET_ALLOWED_ORIGINS": ["https://app.example.com"]}


@pytest.mark.parametrize(
    ("origin", "host", "settings_change", "accepted"),
    [
        (None, None, {}, True),
        # Loopback names, for development: any scheme and port.
        ("http://localhost:8000", None, {}, True),
        ("https://127.0.0.1:9443", None, {}, True),
        # The names of ALLOWED_HOSTS: over HTTPS on the default port only.
        ("https://testserver", None, {}, True),
        ("https://testserver:443", None, {}, True),
        ("http://testserver", None, {}, False),
        ("https://testserver:8443", None, {}, False),
        ("https://evil.example.com", None, {}, False),
        ("null", None, {}, False),
        ("https://testserver/path", None, {}, False),
        # A wildcard host allows no origin; a same-origin page still passes.
        ("https://evil.example.com", None, {"ALLOWED_HOSTS": ["*"]}, False),
        ("http://hub.example.com:8080", b"hub.example.com:8080", {"ALLOWED_HOSTS": ["*"]}, True),
        ("http://hub.example.com", b"hub.example.com:8080", {"ALLOWED_HOSTS": ["*"]}, False),
        # Same origin with a Host that is not allowed is not our origin.
        ("http://other.example:80", b"other.example", {}, False),
        # An explicit list replaces the derived one: exact scheme, host and port.
        ("https://app.example.com", None, APP, True),
        ("https://app.example.com:444", None, APP, False),
        ("http://app.example.com", None, APP, False),
        ("https://testserver", None, APP, False),
    ],
)  # fmt: skip
async def test_origin_check(origin, host, settings_change, accepted, settings):
    for name, value in settings_change.items():
        setattr(settings, name, value)
    headers = [(b"origin", origin.encode())] if origin else []
    if host:
        headers.append((b"host", host))
    comm = connect(headers)
    connected, _ = await comm.connect()
    assert connected
    if accepted:
        assert (await send(comm, {"op": "ping"}))["ok"]
        await comm.disconnect()
    else:
        assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 1008}


async def test_a_cookie_socket_ends_when_its_session_does(settings):
    """Logged out, or the password changed elsewhere: the page's socket is closed (4001)."""
    from hub.fanout import Fanout
    from hub.revocation import close_revoked

    user, _, _ = await make_user_and_token()

    async def page() -> WebsocketCommunicator:
        comm = connect([(b"cookie", f"sessionid={await login_session(user)}".encode())])
        await comm.connect()
        assert (await send(comm, {"op": "ping"}))["ok"]
        return comm

    logged_out, stale_password, kept = await page(), await page(), await page()
    await close_revoked(Fanout.current().connections)  # the control: all still signed in
    for comm in (logged_out, stale_password, kept):
        assert (await send(comm, {"op": "ping"}))["ok"]

    @database_sync_to_async
    def log_out_one_and_change_the_password_of_another() -> None:
        SessionStore(session_key=_session_of(logged_out)).delete()
        session = SessionStore(session_key=_session_of(stale_password))
        session[HASH_SESSION_KEY] = "a-hash-from-the-old-password"
        session.save()

    await log_out_one_and_change_the_password_of_another()
    await close_revoked(Fanout.current().connections)
    for comm in (logged_out, stale_password):
        assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4001}
    assert (await send(kept, {"op": "ping"}))["ok"]
    await kept.disconnect()


def _session_of(comm: WebsocketCommunicator) -> str:
    cookie = dict(comm.scope["headers"])[b"cookie"].decode()
    return cookie.split("=", 1)[1]
