"""subscribe / unsubscribe / publish: authorization, errors and limits."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db(transaction=True)


async def test_subscribe_own_user_topic(ws_user, connect):
    user, token = await ws_user()
    client = await connect(token)
    reply = await client.call("subscribe", topic=f"user:{user.pk}")
    assert reply["ok"]
    data = reply["data"]
    assert data["topic"] == f"user:{user.pk}"
    assert data["seq"] == 0 and data["recovered"] is False
    assert isinstance(data["epoch"], str) and data["epoch"]
    assert "presence" not in data


@pytest.mark.parametrize("other", ["existing", "missing"])
async def test_another_users_topic_is_forbidden_whether_or_not_it_exists(ws_user, connect, other):
    _user, token = await ws_user()
    someone, _ = await ws_user()
    target = someone.pk if other == "existing" else someone.pk + 1000
    client = await connect(token)
    reply = await client.call("subscribe", topic=f"user:{target}")
    assert reply["ok"] is False
    assert reply["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "topic",
    ["user", "user:", "user:0", "user:01", "user:-1", "user:1.5", "user:abc", "User:1",
     ":1", "user:1:2", "user: 1", 5, None, ["user:1"], "user:" + "9" * 19],
)  # fmt: skip
async def test_malformed_topic_names_are_bad_request(ws_user, connect, topic):
    _, token = await ws_user()
    client = await connect(token)
    reply = await client.call("subscribe", topic=topic)
    assert reply["error"]["code"] == "bad_request"
    reply = await client.call("publish", topic=topic, type="say", data={})
    assert reply["error"]["code"] == "bad_request"


async def test_unknown_family_is_not_found(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    assert (await client.call("subscribe", topic="galaxy:1"))["error"]["code"] == "not_found"


async def test_subscribing_twice_is_a_no_op_success(ws_user, connect):
    user, token = await ws_user()
    client = await connect(token)
    first = await client.call("subscribe", topic="room:1")
    assert (await client.recv())["type"] == "presence.join"
    second = await client.call("subscribe", topic="room:1")
    assert second["ok"]
    assert second["data"]["seq"] == first["data"]["seq"]
    assert second["data"]["epoch"] == first["data"]["epoch"]
    assert second["data"]["presence"] == [user.pk]
    # Still exactly one delivery per event.
    await client.call("publish", topic="room:1", type="say", data={"text": "hi"})
    event = await client.recv()
    assert event["type"] == "said"
    assert await client.nothing()


@override_settings(HUB_MAX_TOPICS_PER_CONNECTION=5)
async def test_topic_limit_per_connection(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    for n in range(1, 6):
        assert (await client.call("subscribe", topic=f"room:{n}"))["ok"]
    reply = await client.call("subscribe", topic="room:6")
    assert reply["error"]["code"] == "limit_exceeded"
    # Re-subscribing one it has is fine; after unsubscribing one there is room again.
    assert (await client.call("subscribe", topic="room:5"))["ok"]
    assert (await client.call("unsubscribe", topic="room:1"))["ok"]
    assert (await client.call("subscribe", topic="room:6"))["ok"]


async def test_default_topic_limit_is_100(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    for n in range(1, 101):
        await client.send({"op": "subscribe", "topic": f"room:{n}", "ref": n})
    replies = []
    while len(replies) < 100:
        frame = await client.recv()
        if frame["op"] == "reply":
            replies.append(frame)
    assert [reply["ref"] for reply in replies] == list(range(1, 101))
    assert all(reply["ok"] for reply in replies)
    assert (await client.call("subscribe", topic="room:101"))["error"]["code"] == "limit_exceeded"


async def test_unsubscribe_stops_events(ws_user, connect):
    _, token = await ws_user()
    listener = await connect(token)
    speaker = await connect(token)
    await listener.call("subscribe", topic="room:7")
    assert (await listener.recv())["type"] == "presence.join"
    await speaker.call("publish", topic="room:7", type="say", data={"text": "one"})
    assert (await listener.recv())["data"]["text"] == "one"
    assert (await listener.call("unsubscribe", topic="room:7")) == {
        "op": "reply",
        "ok": True,
        "data": {},
        "ref": 3,
    }
    await speaker.call("publish", topic="room:7", type="say", data={"text": "two"})
    assert await listener.nothing(0.5)


async def test_unsubscribe_of_a_topic_not_subscribed_is_fine(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    assert (await client.call("unsubscribe", topic="room:9"))["ok"]
    assert (await client.call("unsubscribe", topic="nope"))["error"]["code"] == "bad_request"


async def test_publish_needs_the_right_to_subscribe_not_a_subscription(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    reply = await client.call("publish", topic="room:3", type="say", data={"text": "x"})
    assert reply["ok"] and reply["data"] == {"seq": 1}
    forbidden = await client.call("publish", topic="room:5000", type="say", data={})
    assert forbidden["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("type_", "data", "code"),
    [
        ("dance", {}, "not_found"),
        (None, {}, "not_found"),
        ("say", "text", "bad_request"),
        ("say", None, "bad_request"),
        ("say", [1], "bad_request"),
        ("refuse", {}, "conflict"),
        ("crash", {}, "internal"),
    ],
)
async def test_publish_errors(ws_user, connect, type_, data, code):
    _, token = await ws_user()
    client = await connect(token)
    reply = await client.call("publish", topic="room:3", type=type_, data=data)
    assert reply["ok"] is False
    assert reply["error"]["code"] == code
    if code == "internal":
        assert "a bug" not in reply["error"]["message"]
    # The connection survives every refusal.
    assert (await client.call("ping"))["ok"]


async def test_user_topic_accepts_no_publish(ws_user, connect):
    user, token = await ws_user()
    client = await connect(token)
    reply = await client.call("publish", topic=f"user:{user.pk}", type="say", data={})
    assert reply["error"]["code"] == "not_found"


async def test_async_handler_and_ephemeral_events_carry_no_seq(ws_user, connect):
    user, token = await ws_user()
    client = await connect(token)
    await client.call("subscribe", topic="room:4")
    first = await client.recv()  # our own presence.join
    assert first["type"] == "presence.join"
    assert (await client.call("publish", topic="room:4", type="wave", data={}))["ok"]
    event = await client.recv()
    assert event["type"] == "waved" and "seq" not in event
    assert event["data"] == {"user_id": user.pk}
    assert event["ts"].endswith("Z")


@pytest.mark.parametrize("field", [{"since": "3"}, {"since": -1}, {"since": True}, {"epoch": 5}])
async def test_bad_since_or_epoch(ws_user, connect, field):
    _, token = await ws_user()
    client = await connect(token)
    reply = await client.call("subscribe", topic="room:1", **field)
    assert reply["error"]["code"] == "bad_request"
