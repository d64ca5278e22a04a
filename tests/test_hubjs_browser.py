"""hub.js (web/static/web/hub.js) in Debian's Chromium, against live daphne processes.

The page is our own landing page, under its Content-Security-Policy, which imports
/static/web/hub.js as a module: no test-only product code. Events are published by
the page itself or from this process (hub.services.publish), on the test topic
family `room:{id}` of tests/e2e_server.py.
"""

import os
import re
import signal
import subprocess
import threading
import time

import pytest
from django.db import close_old_connections, transaction
from django.test import Client as DjangoClient

from accounts.models import ApiToken
from accounts.services import token_create, token_revoke, user_create
from hub.models import Topic
from hub.services import publish
from tests.browser import needs_chromium
from tests.helpers import PASSWORD
from tests.live import e2e_server_command as server_command
from tests.live import free_port, server_env, wait_for_http

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]

# Loaded into the page by each test: hub.js, a Hub on this page's own server, and a log
# of everything its callbacks heard. Errors come back as {code, message, retry_after}.
SETUP = """async ([credentials, options]) => {
  const { Hub } = await import("/static/web/hub.js");
  const log = (window.log = { states: [], details: [], events: [], resyncs: [] });
  window.hub = new Hub(null, credentials, {
    ...options,
    onState: (state, detail) => { log.states.push(state); log.details.push(detail); },
  });
  window.follow = (topic) => hub.subscribe(topic, (event) => log.events.push(event), {
    onResync: (topic, reply) => {
      const heard = log.events.filter((event) => event.topic === topic).length;
      log.resyncs.push([topic, reply.seq, heard]);
    },
  });
  window.attempt = async (action) => {
    try {
      return { ok: await action() };
    } catch (error) {
      return { code: error.code, message: error.message, retry_after: error.retry_after };
    }
  };
  return attempt(() => hub.connect());
}"""


@pytest.fixture(scope="module")
def port(live_servers) -> int:
    """A server whose sockets are re-checked every 0.5 s (a third of the presence TTL)."""
    (started,) = live_servers.start(server_command, server_env(HUB_PRESENCE_TTL_SECONDS="1.5"))
    return started


def make_user(email: str):
    return user_create(email=email, password=PASSWORD, name=email[:5])


def open_hub(page, port: int, credentials: dict, **options) -> dict:
    """Load our landing page, import hub.js into it and connect; the connect outcome."""
    page.goto(f"http://127.0.0.1:{port}/")
    return page.evaluate(SETUP, [credentials, options])


def said(page, topic: str) -> list[tuple[int, int | None]]:
    """(seq, n) of each `said` event the page heard on `topic`, in arrival order."""
    return [
        (event["seq"], event["data"].get("n"))
        for event in page.evaluate("log.events")
        if event["topic"] == topic and event["type"] == "said"
    ]


def wait_for_events(page, topic: str, count: int, timeout: float = 20) -> None:
    page.wait_for_function(
        "([topic, count]) => log.events.filter((e) => e.topic === topic).length >= count",
        arg=[topic, count],
        timeout=timeout * 1000,
    )


def publish_in_thread(topic: str, numbers) -> None:
    """Publish `said` events from this process, as a worker or a shell would, in one
    transaction (delivered on its commit)."""

    def run():
        try:
            with transaction.atomic():
                for n in numbers:
                    publish(topic=topic, event_type="said", data={"n": n})
        finally:
            close_old_connections()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_token_auth_requests_by_ref_and_events(page, port):
    user = make_user("page@example.com")
    connected = open_hub(page, port, {"token": token_create(user=user)[1]})
    assert connected["ok"]["user_id"] == user.pk
    assert page.evaluate("log.states") == ["connecting", "online"]

    # Replies are matched by ref: many at once, each resolves with its own.
    replies = page.evaluate(
        """() => Promise.all([
          hub.request("ping"),
          hub.publish("room:1", "say", { text: "one" }),
          hub.request("ping"),
        ])"""
    )
    assert replies == [{}, {"seq": 1}, {}]

    # ok: false rejects with the error's code and message.
    refused = page.evaluate("attempt(() => hub.publish('room:1000', 'say', {}))")
    assert refused["code"] == "forbidden" and refused["message"]
    unknown = page.evaluate("attempt(() => hub.request('dance'))")
    assert unknown["code"] == "bad_request"
    # Nothing goes out over 64 KiB (the server would close with 1009 for good).
    big = page.evaluate("attempt(() => hub.publish('room:1', 'say', {text: 'x'.repeat(70000)}))")
    assert big["code"] == "too_large"
    reply = page.evaluate("attempt(() => follow('room:1'))")["ok"]
    assert (reply["topic"], reply["seq"], reply["recovered"]) == ("room:1", 1, False)
    page.evaluate("hub.publish('room:1', 'say', {text: 'from the page'})")
    publish_in_thread("room:1", [3])
    wait_for_events(page, "room:1", 2)
    events = page.evaluate("log.events")
    assert [(e["seq"], e["type"]) for e in events] == [(2, "said"), (3, "said")]
    assert events[0]["data"] == {"by": user.pk, "text": "from the page"}
    assert events[1]["data"] == {"n": 3} and re.match(r"\d{4}-\d\d-\d\dT.*Z$", events[1]["ts"])

    assert page.evaluate("hub.unsubscribe('room:1')") == {}
    assert page.evaluate("hub.topics.size") == 0

    # Over the connection's operation budget: rate_limited, with retry_after.
    outcomes = page.evaluate(
        "Promise.all(Array.from({ length: 160 }, () => attempt(() => hub.request('ping'))))"
    )
    limited = [outcome for outcome in outcomes if outcome.get("code") == "rate_limited"]
    assert limited and all(outcome["retry_after"] > 0 for outcome in limited)
    assert page.evaluate("[hub.state, hub.duplicates]") == ["online", 0]
    page.evaluate("hub.close()")
    assert page.evaluate("log.states") == ["connecting", "online", "offline"]


def test_session_cookie_auth_for_the_page(page, port):
    user = make_user("cookie@example.com")
    django = DjangoClient()
    django.force_login(user)
    session = django.cookies["sessionid"].value
    page.context.add_cookies(
        [{"name": "sessionid", "value": session, "url": f"http://127.0.0.1:{port}/"}]
    )
    connected = open_hub(page, port, {"cookie": True})
    assert connected["ok"]["user_id"] == user.pk
    page.evaluate("follow('room:2')")
    page.evaluate("hub.publish('room:2', 'say', {text: 'by cookie'})")
    wait_for_events(page, "room:2", 1)
    assert page.evaluate("log.events[0].data") == {"by": user.pk, "text": "by cookie"}


def test_a_refused_token_fails_connect_and_a_revoked_one_ends_the_socket_for_good(page, port):
    refused = open_hub(page, port, {"token": "hub_not-a-token"})
    assert refused["code"] == "unauthorized"
    page.wait_for_function("() => hub.closeCode === 4001")  # the close follows the reply
    assert page.evaluate("log.states") == ["connecting", "offline"]

    user = make_user("revoked@example.com")
    api_token, token = token_create(user=user)
    assert open_hub(page, port, {"token": token})["ok"]["user_id"] == user.pk
    page.evaluate("follow('room:3')")
    token_revoke(api_token=ApiToken.objects.get(pk=api_token.pk))
    # The server's sweep closes it with 4001 within about a second here.
    page.wait_for_function("() => hub.closeCode === 4001", timeout=10_000)
    assert page.evaluate("log.details.at(-1)") == {"code": 4001, "final": True}
    time.sleep(1)  # several backoff periods: no attempt to reconnect is made
    assert page.evaluate("log.states") == ["connecting", "online", "offline"]


def test_after_a_server_restart_the_page_resumes_exactly_once_and_resyncs_a_new_epoch(page):
    user = make_user("restart@example.com")
    token = token_create(user=user)[1]
    port = free_port()
    env = server_env()
    server = subprocess.Popen(server_command(port), env=env, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=server)
        assert open_hub(page, port, {"token": token})["ok"]
        page.evaluate("Promise.all([follow('room:10'), follow('room:11')])")
        publish_in_thread("room:10", [1])
        publish_in_thread("room:11", [1, 2, 3])
        wait_for_events(page, "room:11", 3)
        wait_for_events(page, "room:10", 1)

        # A stalled server: no reply in time is a `timeout`, and its late reply is ignored.
        os.killpg(server.pid, signal.SIGSTOP)
        try:
            late = page.evaluate("attempt(() => hub.request('ping', {}, {timeout: 300}))")
        finally:
            os.killpg(server.pid, signal.SIGCONT)
        assert late["code"] == "timeout"
        assert page.evaluate("hub.request('ping')") == {}

        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
        page.wait_for_function("() => hub.state !== 'online'")
        # Missed while no server was up: 150 events to replay on room:10; room:11's log
        # is reset (a restored database), so it has a new epoch and its old seqs mean nothing.
        publish_in_thread("room:10", range(2, 152))
        Topic.objects.filter(name="room:11").delete()
        publish_in_thread("room:11", [100])

        server = subprocess.Popen(server_command(port), env=env, start_new_session=True)
        # Publish all along the reconnect, so some events land while the replay is sent.
        stop, published = threading.Event(), []

        def keep_publishing():
            try:
                n = 152
                while not stop.is_set():
                    publish(topic="room:10", event_type="said", data={"n": n})
                    published.append(n)
                    n += 1
                    time.sleep(0.005)
            finally:
                close_old_connections()

        publisher = threading.Thread(target=keep_publishing)
        publisher.start()
        try:
            page.wait_for_function("() => hub.state === 'online'", timeout=30_000)
            time.sleep(0.3)
        finally:
            stop.set()
            publisher.join()
        last = published[-1]
        wait_for_events(page, "room:10", last)

        # Every event of room:10 exactly once and in order, missed ones then live ones.
        assert said(page, "room:10") == [(n, n) for n in range(1, last + 1)]
        assert page.evaluate("hub.duplicates") == 0
        # room:11 could not be recovered: the caller was told before any later event.
        assert page.evaluate("log.resyncs") == [["room:11", 1, 3]]
        publish_in_thread("room:11", [101])  # seq 2: heard, although below the old seq 3
        wait_for_events(page, "room:11", 4)
        assert said(page, "room:11") == [(1, 1), (2, 2), (3, 3), (2, 101)]

        # Each drop: offline, then attempts (connecting, and offline again while the
        # server is down) until one is online. The page may first reach the stopping
        # server, which still accepts during its grace period, and drop once more.
        states = " ".join(page.evaluate("log.states"))
        assert re.fullmatch(
            r"connecting online( offline( connecting offline)* connecting online)+", states
        )
        assert page.evaluate("log.details[2].code") in (1001, 1006)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(15)
