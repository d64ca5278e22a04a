"""Fuzzing the live protocol (docs/protocol.md) on one authenticated socket per test.

Whatever JSON a client sends, it gets exactly the one answer the protocol page promises:
an `error` frame (bad_request) for a frame with no usable `op`, else a `reply` echoing a
valid `ref` (none for a missing or bad one), refused with a documented code and never
`internal`; the socket stays open and nothing is logged at ERROR. Then the frames that
close a socket: binary (1003), over 64 KiB (1009), a ping flood over the default budget
(rate_limited, then 1008) that leaves the process's other sockets answering.

Invalid UTF-8 cannot be sent as a text frame through WebsocketCommunicator (text_data is a
str); the binary frame test covers bytes. Three deviations it once found are kept at the
end as regression tests.
"""

import itertools
import json
import logging
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from hub import topics

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = fuzz_settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

OPS = ["ping", "auth", "subscribe", "unsubscribe", "publish"]
FIELDS = {"op", "ref", "topic", "since", "epoch", "type", "data", "token"}
# The topic name rule, as the page states it (anchored at both ends, ASCII digits only).
TOPIC = re.compile(r"([a-z][a-z_]{0,30}):([1-9][0-9]{0,17})")
# orjson keeps integers in this range as integers; beyond it they become floats (pinned below).
INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1
OWN_TOPIC, OWN_TOKEN = "<own topic>", "<own token>"  # placeholders, replaced per socket
_after = itertools.count()


@pytest.fixture(autouse=True)
def room_family():
    """Overrides hub/tests/conftest.py: only this build's families (`user`) are fuzzed."""
    yield None


@pytest.fixture(autouse=True)
def watch_logs(caplog):
    caplog.set_level(logging.WARNING)


@pytest.fixture
async def sock(ws_user, connect, settings):
    """One authenticated socket, reused by every example of a test; the budget is out of
    the way (the flood test below uses the default one)."""
    settings.HUB_OPERATIONS_BURST = 100_000
    user, token = await ws_user()
    client = await connect(token)
    client.user_id, client.token = user.pk, token
    return client


def assert_no_errors(caplog) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [(r.name, r.getMessage()) for r in bad]


# --- strategies ----------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=INT64_MIN, max_value=UINT64_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
huge_ints = st.integers(min_value=-(10**60), max_value=10**60)  # only where any type is wrong
refs = st.one_of(
    st.integers(min_value=INT64_MIN, max_value=UINT64_MAX),
    st.text(max_size=70),
    st.text(min_size=60, max_size=70),  # around the 64-character limit
    any_json,
)
topic_names = st.one_of(
    st.just(OWN_TOPIC),
    st.integers(min_value=1, max_value=10**18 - 1).map("user:{}".format),
    st.from_regex(r"[a-z][a-z_]{0,31}:(0|[0-9]{1,19})", fullmatch=True),
    st.sampled_from(["conversation:1", "availability:2", "user:0", "user:01", "User:1", ""]),
    st.text(max_size=30),
    any_json,
    huge_ints,
)
tokens = st.one_of(
    st.none(),
    st.just(OWN_TOKEN),
    st.text(max_size=30),
    st.text(max_size=30).map("hub_{}".format),
    st.sampled_from([0, 0.0, False, "", [], {}]),  # a non-string token that is falsy
)
commands = st.tuples(
    st.fixed_dictionaries(
        {"op": st.one_of(st.sampled_from(OPS), st.text(max_size=12), any_json)},
        optional={
            "ref": refs,
            "topic": topic_names,
            "since": st.one_of(st.integers(min_value=INT64_MIN, max_value=UINT64_MAX), any_json),
            "epoch": st.one_of(st.text(max_size=20), any_json, huge_ints),
            "type": st.one_of(st.text(max_size=12), any_json, huge_ints),
            "data": st.one_of(any_json, huge_ints),
            "token": tokens,
        },
    ),
    st.dictionaries(st.text(max_size=8).filter(lambda k: k not in FIELDS), any_json, max_size=3),
).map(lambda parts: {**parts[1], **parts[0]})


# --- the oracle: docs/protocol.md ----------------------------------------------------


def _topic_code(topic: Any, user_id: int, *, need_right: bool) -> str | None:
    if not isinstance(topic, str) or not TOPIC.fullmatch(topic):
        return "bad_request"
    family, object_id = TOPIC.fullmatch(topic).groups()  # type: ignore[union-attr]
    if family != "user":
        assume(family not in topics._families)  # a family this oracle does not know
        return "not_found"
    return "forbidden" if need_right and int(object_id) != user_id else None


def _command_code(frame: dict, user_id: int, token: str) -> str | None:
    """The error code the page promises for this command on an authenticated socket."""
    op, body = frame["op"], frame
    if op == "ping":
        return None
    if op == "auth":
        # Again, on an authenticated socket: no token or the same user's is answered ok.
        return None if body.get("token") in (None, token) else "bad_request"
    if op == "subscribe":
        since, epoch = body.get("since"), body.get("epoch")
        if since is not None and (isinstance(since, bool) or not isinstance(since, int)):
            return "bad_request"
        if since is not None and since < 0:
            return "bad_request"
        if epoch is not None and not isinstance(epoch, str):
            return "bad_request"
        return _topic_code(body.get("topic"), user_id, need_right=True)
    if op == "unsubscribe":
        return _topic_code(body.get("topic"), user_id, need_right=False)
    if op == "publish":
        # `user:` topics accept no publish: your own gets not_found, another's forbidden.
        return _topic_code(body.get("topic"), user_id, need_right=True) or "not_found"
    return "bad_request"  # unknown op


async def exchange(client, text: str, expected: dict | None, caplog) -> dict:
    """Send one text frame; check its one answer, then that the socket still answers."""
    assert len(text.encode()) <= 65_536
    await client.comm.send_to(text_data=text)
    answer = json.loads(await client.comm.receive_from(timeout=10))
    if expected is not None:
        assert _matches(answer, expected), (text[:300], answer)
    ref = f"after-{next(_after)}"
    await client.comm.send_to(text_data=json.dumps({"op": "ping", "ref": ref}))
    after = json.loads(await client.comm.receive_from(timeout=10))
    assert after == {"op": "reply", "ok": True, "data": {}, "ref": ref}, (text[:300], after)
    assert_no_errors(caplog)
    return answer


def _matches(answer: dict, expected: dict) -> bool:
    if expected["op"] == "error":
        return (
            answer.keys() == {"op", "error"}
            and answer["op"] == "error"
            and answer["error"]["code"] == "bad_request"
            and isinstance(answer["error"]["message"], str)
        )
    if answer.get("op") != "reply" or answer.get("ok") is not (expected["code"] is None):
        return False
    if "ref" in expected:
        ref = answer.get("ref")
        if "ref" not in answer or ref != expected["ref"] or type(ref) is not type(expected["ref"]):
            return False
    elif "ref" in answer:
        return False
    if expected["code"] is None:
        return answer.keys() - {"ref"} == {"op", "ok", "data"} and isinstance(answer["data"], dict)
    return answer.keys() - {"ref"} == {"op", "ok", "error"} and (
        answer["error"]["code"] == expected["code"]
    )


def expected_answer(value: Any, user_id: int, token: str) -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("op"), str) or not value["op"]:
        return {"op": "error"}
    ref = value.get("ref")
    if isinstance(ref, bool) or not isinstance(ref, str | int | None) or len(str(ref)) > 64:
        return {"op": "reply", "code": "bad_request"}  # and no `ref`
    expected: dict[str, Any] = {"op": "reply", "code": _command_code(value, user_id, token)}
    if ref is not None:
        expected["ref"] = ref
    return expected


def _fill(frame: Any, client) -> Any:
    if isinstance(frame, dict):
        if frame.get("topic") == OWN_TOPIC:
            frame = {**frame, "topic": f"user:{client.user_id}"}
        if frame.get("token") == OWN_TOKEN:
            frame = {**frame, "token": client.token}
    return frame


# --- the fuzz ------------------------------------------------------------------------


@fuzz_settings(FUZZ, max_examples=60)
@given(frame=commands)
async def test_any_command_gets_the_documented_reply_and_the_socket_stays_open(sock, caplog, frame):
    frame = _fill(frame, sock)
    expected = expected_answer(frame, sock.user_id, sock.token)
    text = json.dumps(frame)
    assume(len(text.encode()) <= 65_536)
    answer = await exchange(sock, text, expected, caplog)
    if answer.get("ok") and frame["op"] == "subscribe":
        assert answer["data"]["topic"] == frame["topic"]
    if answer.get("ok") and frame["op"] == "auth":
        assert answer["data"]["user_id"] == sock.user_id


@FUZZ
@given(value=any_json)
async def test_any_json_value_gets_one_answer(sock, caplog, value):
    await exchange(
        sock, json.dumps(value), expected_answer(value, sock.user_id, sock.token), caplog
    )


def _nested(depth: int, kind: str) -> str:
    opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
    return opening * depth + "0" + closing * depth


@FUZZ
@given(
    depth=st.integers(min_value=1, max_value=10_000),
    kind=st.sampled_from(["list", "object"]),
    top=st.booleans(),
)
async def test_deep_nesting_gets_one_answer(sock, caplog, depth, kind, top):
    """JSON nested far beyond the parser's depth limit (1024 for orjson) still gets one
    answer: the ping's reply while shallow, an error frame (bad_request) when too deep."""
    inner = _nested(depth, kind)
    text = inner if top else '{"op": "ping", "ref": 3, "data": ' + inner + "}"
    assume(len(text.encode()) <= 65_536)
    answer = await exchange(sock, text, None, caplog)
    if top or depth > 2000:
        assert answer["op"] == "error" and answer["error"]["code"] == "bad_request", answer
    elif depth <= 500:
        assert answer == {"op": "reply", "ok": True, "data": {}, "ref": 3}
    else:  # around the limit: either, but exactly one answer and nothing logged
        assert answer["op"] == "error" or answer["ok"] is True, answer


@FUZZ
@given(text=st.text(min_size=1, max_size=200))  # the communicator cannot send ""
async def test_text_that_is_not_a_command_gets_an_error_frame(sock, caplog, text):
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    assume(not isinstance(parsed, dict))
    await exchange(sock, text, {"op": "error"}, caplog)


# --- bad refs, exactly ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "echoed"),
    [
        ("r" * 64, True),
        (-(10**18), True),  # the sign counts
        (UINT64_MAX, True),
        (INT64_MIN, True),
        ("é" * 64, True),  # characters, not bytes
        ("r" * 65, False),
        ("é" * 65, False),
        (True, False),
        (False, False),
        (1.0, False),
        (2.5, False),
        ([1], False),
        ({"a": 1}, False),
    ],
)
async def test_a_ref_is_echoed_only_when_a_string_or_integer_of_64_characters_at_most(
    sock, caplog, ref, echoed
):
    answer = await exchange(sock, json.dumps({"op": "ping", "ref": ref}), None, caplog)
    if echoed:
        assert answer == {"op": "reply", "ok": True, "data": {}, "ref": ref}
        assert type(answer["ref"]) is type(ref)
    else:
        assert answer["ok"] is False and answer["error"]["code"] == "bad_request"
        assert "ref" not in answer


# --- frames that close the socket ----------------------------------------------------


async def test_a_binary_frame_closes_with_1003(sock, caplog):
    await sock.comm.send_to(bytes_data=b"\xff\xfe{not utf-8")
    assert await sock.comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 1003}
    assert_no_errors(caplog)


async def test_a_frame_over_64_kib_closes_with_1009_and_exactly_64_kib_is_read(sock, caplog):
    head, tail = '{"op": "ping", "ref": 1, "pad": "', '"}'
    room = 65_536 - len(head) - len(tail)
    exact = head + "é" * (room // 2) + "x" * (room % 2) + tail
    assert len(exact.encode()) == 65_536
    answer = await exchange(sock, exact, None, caplog)
    assert answer == {"op": "reply", "ok": True, "data": {}, "ref": 1}
    over = head + "é" * (room // 2) + "x" * (room % 2 + 1) + tail  # 65,537 bytes
    assert len(over.encode()) == 65_537 and len(over) < 65_536
    await sock.comm.send_to(text_data=over)
    assert await sock.comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 1009}
    assert_no_errors(caplog)


async def test_a_ping_flood_is_refused_then_closed_while_other_sockets_keep_answering(
    ws_user, connect, caplog, settings
):
    """The default burst (150) and close (after 50 refusals in a row); the refill is made
    negligible so the count does not depend on how fast this machine answers."""
    settings.HUB_OPERATIONS_PER_SECOND = 0.001
    _, token = await ws_user()
    _, other_token = await ws_user()
    flooder, other = await connect(token), await connect(other_token)
    for n in range(500):
        await flooder.comm.send_to(text_data=json.dumps({"op": "ping", "ref": n}))
    answers = []
    while True:
        output = await flooder.comm.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            assert output["code"] == 1008
            break
        answers.append(json.loads(output["text"]))
    ok = [a for a in answers if a["ok"]]
    limited = [a for a in answers if not a["ok"]]
    assert len(ok) == 149  # the burst, less the auth
    assert len(limited) == 50 and all(a["error"]["code"] == "rate_limited" for a in limited)
    waits = [a["error"]["retry_after"] for a in limited]
    assert all(isinstance(w, int | float) and w > 0 for w in waits), waits
    assert [a["ref"] for a in answers] == list(range(len(answers)))  # in order, one each
    assert len(answers) < 500
    for _ in range(3):
        assert (await other.call("ping"))["ok"]
    assert_no_errors(caplog)


async def test_the_log_check_sees_an_unexpected_error(sock, caplog):
    """The fuzz's `assert_no_errors` would see a crash: a handler's bug is logged."""

    def crash(**kwargs):
        raise RuntimeError("a bug")

    topics.register_family(
        topics.TopicFamily(name="crashy", authorize=lambda u, i: True, handlers={"x": crash})
    )
    try:
        frame = {"op": "publish", "ref": 1, "topic": "crashy:1", "type": "x", "data": {}}
        await sock.comm.send_to(text_data=json.dumps(frame))
        answer = json.loads(await sock.comm.receive_from(timeout=5))
    finally:
        topics.unregister_family("crashy")
    assert answer["error"]["code"] == "internal"
    with pytest.raises(AssertionError):
        assert_no_errors(caplog)


# --- deviations the fuzzing found once, kept as regression tests ---------------------


@pytest.mark.parametrize("token", [5, 1.5, True, ["hub_x"], {"a": 1}])
async def test_second_auth_with_a_truthy_non_string_token_is_bad_request(sock, caplog, token):
    answer = await exchange(
        sock, json.dumps({"op": "auth", "ref": 1, "token": token}), None, caplog
    )
    assert answer["error"]["code"] == "bad_request"


@pytest.mark.parametrize("topic", ["user:1\n", "nofamily:1\n"])
async def test_topic_with_trailing_newline_is_bad_request(sock, caplog, topic):
    frame = {"op": "unsubscribe", "ref": 1, "topic": topic}
    answer = await exchange(sock, json.dumps(frame), None, caplog)
    assert answer["ok"] is False and answer["error"]["code"] == "bad_request"


@pytest.mark.parametrize("ref", [2**64, -(2**63) - 1, 10**63])
async def test_an_integer_ref_beyond_64_bits_is_echoed(sock, caplog, ref):
    answer = await exchange(sock, json.dumps({"op": "ping", "ref": ref}), None, caplog)
    assert answer == {"op": "reply", "ok": True, "data": {}, "ref": ref}
