"""The chat panel (web/static/web/chat.js) in Debian's Chromium, two people on live daphne.

No test-only product code: each browser context loads our landing page `/` (so the
Content-Security-Policy allows /static/ imports), puts a `<section id="chat">` into
it, imports hub.js and chat.js, connects a Hub with a bearer token and mounts the
panel with a small `api` function (fetch + the token), as the app page does.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.services import token_create, user_create
from chat.services import conversation_open, message_send, send_rate
from conventions.ratelimit import buckets
from tests.browser import needs_chromium
from tests.helpers import PASSWORD
from tests.live import daphne_command, free_port, screenshot_publish, server_env, wait_for_http

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]

ROOT = Path(__file__).resolve().parent.parent

# The page's side of the harness: what app.html does, with a token instead of a cookie.
MOUNT = """async (token) => {
  const api = async (method, path, body) => {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const sent = body === undefined ? undefined : JSON.stringify(body);
    const response = await fetch(path, { method, headers, body: sent });
    const data = await response.json();
    if (response.ok) return data;
    const { code, message, details } = data.error;
    throw Object.assign(new Error(message), { status: response.status, code, details });
  };
  const { Hub } = await import("/static/web/hub.js");
  const chat = await import("/static/web/chat.js");
  const link = Object.assign(document.createElement("link"), { rel: "stylesheet" });
  link.href = "/static/web/chat.css";
  await new Promise((loaded) => { link.onload = loaded; document.head.append(link); });
  const section = document.createElement("section");
  section.id = "chat";
  section.setAttribute("aria-label", "Chat");
  document.body.replaceChildren(section);
  window.hub = new Hub(null, { token }, { maxDelay: 1000 });
  await hub.connect();
  window.chat = chat;
  window.api = api;
  await chat.mountChat(section, { hub, api, me: await api("GET", "/api/v1/me") });
}"""


class Server:
    """One daphne on a fixed port that a test can stop and start again."""

    def __init__(self):
        self.port = free_port()
        self.env = server_env(CHAT_MESSAGE_BURST="100", HUB_PRESENCE_TTL_SECONDS="3")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            daphne_command(self.port), cwd=ROOT, env=self.env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_http(f"http://127.0.0.1:{self.port}/healthz", process=self.process)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(15)


@pytest.fixture(scope="module")
def server(live_servers):
    """Started once for the module; live_servers flushes the database after it stops."""
    started = Server()
    started.start()
    live_servers.stack.callback(started.stop)
    yield started


@pytest.fixture
def people():
    student = user_create(email="sam@example.com", password=PASSWORD, name="Sam", role="student")
    teacher = user_create(email="ida@example.com", password=PASSWORD, name="Ida",
                          role="instructor")  # fmt: skip
    return student, teacher


@pytest.fixture
def open_panel(browser, server):
    """`open_panel(user, width)`: a new browser context with the user's panel mounted."""
    contexts = []

    def open_(user, width=900):
        context = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.port}/")
        page.evaluate(MOUNT, token_create(user=user)[1])
        return page

    yield open_
    for context in contexts:
        context.close()


def messages(page) -> list[tuple[str, str]]:
    """(id, body) of each message shown, in order; pending ones have id ''."""
    return page.eval_on_selector_all(
        ".chat-msg",
        "(ns) => ns.map((n) => [n.dataset.id || '', n.querySelector('.chat-body').textContent])",
    )


def send(page, text: str) -> None:
    box = page.locator(".chat-compose textarea")
    box.fill(text)
    box.press("Enter")


def test_two_people_chat_live_with_badges_typing_ticks_edit_and_delete(
    open_panel, server, people, tmp_path, settings
):
    student, teacher = people
    sam = open_panel(student)
    # The entry point of an instructor's "Message" button.
    sam.evaluate("(id) => chat.openConversationWith(id)", teacher.pk)
    expect(sam.locator(".chat-thread h3")).to_have_text("Ida")
    ida = open_panel(teacher)
    expect(ida.locator(".chat-item")).to_have_count(1)
    expect(ida.locator(".chat-badge")).to_have_count(0)

    for text in ("Hello!", "Can we move Thursday?", "Line one\nline two"):
        send(sam, text)
    send(sam, "x" * 4001)  # refused before it is sent, in words
    expect(sam.locator(".chat-thread .chat-error")).to_have_text(
        "The message is too long: 4,001 characters, at most 4,000."
    )
    # Three unread, live; each of Sam's shows once, sent (one tick), none pending.
    expect(ida.locator(".chat-badge")).to_have_text("3")
    expect(ida.locator(".chat-badge")).to_have_attribute("aria-label", "3 unread")
    expect(sam.locator(".chat-tick")).to_have_text([" ✓"] * 3)
    assert [body for _, body in messages(sam)] == [
        "Hello!",
        "Can we move Thursday?",
        "Line one\nline two",
    ]
    assert sam.locator(".chat-pending").count() == 0
    expect(sam.locator(".chat-dot")).not_to_have_class("chat-dot chat-dot-on")

    # Ida opens it: the badge clears, Sam sees her online and his messages read.
    ida.locator(".chat-item").click()
    expect(ida.locator(".chat-msg")).to_have_count(3)
    expect(ida.locator(".chat-badge")).to_have_count(0)
    expect(sam.locator(".chat-tick")).to_have_text([" ✓✓"] * 3)
    expect(sam.locator(".chat-presence")).to_have_text("online")

    # Typing is shown to the other side, and the reply arrives live.
    ida.locator(".chat-compose textarea").press_sequentially("Sure")
    expect(sam.locator(".chat-typing")).to_have_text("Ida is typing…")
    ida.locator(".chat-compose textarea").press("Shift+Enter")  # a newline, not a send
    ida.locator(".chat-compose textarea").press_sequentially("Friday works")
    ida.locator(".chat-compose textarea").press("Enter")
    expect(sam.locator(".chat-msg").last.locator(".chat-body")).to_have_text("Sure\nFriday works")
    expect(sam.locator(".chat-typing")).to_be_hidden()
    expect(ida.locator(".chat-tick")).to_have_text([" ✓✓"])  # Sam has it open

    # Sam edits his first message inline (Escape cancels, Enter saves) and deletes the second.
    first = sam.locator(".chat-msg").nth(0)
    first.get_by_role("button", name="Edit").click()
    first.locator("textarea").press("Escape")
    expect(first.locator(".chat-body")).to_have_text("Hello!")
    first.get_by_role("button", name="Edit").click()
    first.locator("textarea").fill("Hello, Ida!")
    first.locator("textarea").press("Enter")
    second = sam.locator(".chat-msg").nth(1)
    second.get_by_role("button", name="Delete").click()
    second.get_by_role("button", name="Delete message").click()
    for page in (sam, ida):
        expect(page.locator(".chat-msg").nth(0).locator(".chat-body")).to_have_text("Hello, Ida!")
        expect(page.locator(".chat-msg").nth(0).locator(".chat-edited")).to_have_text(" (edited)")
        expect(page.locator(".chat-msg").nth(1).locator(".chat-body")).to_have_text(
            "message deleted"
        )
    # Nothing shown twice on either side.
    for page in (sam, ida):
        ids = [id_ for id_, _ in messages(page)]
        assert len(ids) == 4 and len(set(ids)) == 4 and "" not in ids

    sam.locator(".chat-compose textarea").fill("")
    shot = tmp_path / "chat.png"
    sam.locator("#chat").screenshot(path=str(shot))
    assert shot.stat().st_size > 5000
    colours = sam.evaluate(
        "() => getComputedStyle(document.querySelector('.chat-msg.chat-mine')).backgroundColor"
    )
    assert colours not in ("rgba(0, 0, 0, 0)", "")  # chat.css applied under the CSP
    screenshot_publish(shot, "chat")

    # A refusal of the server comes back in words, with a retry: Ida is over the send rate
    # for minutes (her bucket, shared by every server process, overdrawn from here), so a
    # slow machine cannot refill it before she sends.
    while buckets().take(f"chat.send:{teacher.pk}", send_rate(), cost=600) > 0:
        time.sleep(0.2)  # not a token left even to overdraw: wait for one
    send(ida, "one more")
    expect(ida.locator(".chat-failed")).to_contain_text("You are sending too fast. Try again in")
    expect(ida.get_by_role("button", name="Retry")).to_be_visible()


def test_older_messages_load_on_scroll_up_without_duplicates_at_phone_width(
    open_panel, server, people, settings
):
    settings.CHAT_MESSAGE_BURST = 200
    student, teacher = people
    conversation = conversation_open(user=student, participant_id=teacher.pk)[0]
    for n in range(70):
        message_send(user=student, conversation_id=conversation.pk, body=f"m{n}", client_id=f"c{n}")
    ida = open_panel(teacher, width=375)
    expect(ida.locator(".chat-badge")).to_have_text("70")
    ida.locator(".chat-item").click()
    expect(ida.locator(".chat-inbox")).to_be_hidden()  # one pane at a time on a phone
    expect(ida.locator(".chat-msg")).to_have_count(30)
    expect(ida.locator(".chat-msg").last.locator(".chat-body")).to_have_text("m69")
    for count in (60, 70):
        ida.evaluate("document.querySelector('.chat-scroll').scrollTop = 0")
        expect(ida.locator(".chat-msg")).to_have_count(count)
        # The view stays where it was instead of jumping to the top of the new page.
        assert ida.evaluate("document.querySelector('.chat-scroll').scrollTop") > 100
    expect(ida.locator(".chat-older")).to_be_hidden()
    assert [body for _, body in messages(ida)] == [f"m{n}" for n in range(70)]
    # Narrow, nothing sticks out sideways.
    assert ida.evaluate("document.documentElement.scrollWidth") <= 375
    ida.get_by_role("button", name="← Conversations").click()
    expect(ida.locator(".chat-badge")).to_have_count(0)
    expect(ida.locator(".chat-item")).to_be_focused()


def test_a_server_restart_reconnects_both_and_a_message_sent_meanwhile_shows_once(
    open_panel, server, people
):
    student, teacher = people
    conversation = conversation_open(user=student, participant_id=teacher.pk)[0]
    sam, ida = open_panel(student), open_panel(teacher)
    for page in (sam, ida):
        page.locator(".chat-item").click()
    for page in (sam, ida):
        expect(page.locator(".chat-presence")).to_have_text("online")
    send(sam, "before")
    expect(ida.locator(".chat-msg")).to_have_count(1)

    server.stop()
    for page in (sam, ida):
        expect(page.locator(".chat-status")).to_have_text("Connection lost. Reconnecting…")
    message_send(
        user=student, conversation_id=conversation.pk, body="while down", client_id="rest-1"
    )
    server.start()
    for page in (sam, ida):
        expect(page.locator(".chat-status")).to_be_hidden(timeout=15_000)
        expect(page.locator(".chat-msg")).to_have_count(2)
        assert [body for _, body in messages(page)] == ["before", "while down"]
    send(ida, "after")
    expect(sam.locator(".chat-msg")).to_have_count(3)
    expect(sam.locator(".chat-presence")).to_have_text("online")
    assert sam.evaluate("hub.duplicates") == 0 and ida.evaluate("hub.duplicates") == 0
