"""The app at `/` in Debian's Chromium against a live daphne on PostgreSQL and Redis:
sign-in, a booking seen live by the instructor and by a second student, a cancel that
brings the time back, the 409 of a time just taken shown in words, the offline banner
across a server restart, and screenshots of the main views (docs/screenshots/)."""

import struct
import subprocess
import zlib
from datetime import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.models import User
from accounts.services import user_create
from bookings.services import availability_replace, service_create
from chat.models import Conversation
from chat.services import message_send
from tests.browser import needs_chromium
from tests.helpers import PASSWORD
from tests.live import (
    ROOT,
    daphne_command,
    free_port,
    screenshot_publish,
    server_env,
    stop,
    wait_for_http,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


class Server:
    """One daphne this module can stop and start again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.env = server_env()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = daphne_command(self.port)
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_http(f"{self.url}/healthz", process=self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture(scope="module")
def server(live_servers):
    started = Server()
    started.start()
    yield started
    started.stop()


@pytest.fixture
def people():
    teacher = user_create(email="ida@example.com", password=PASSWORD, name="Ida Keys",
                          role="instructor", timezone="UTC")  # fmt: skip
    service = service_create(instructor=teacher, name="Piano", duration_minutes=60,
                             price_cents=4500, currency="EUR",
                             location_types=["online", "instructor_location"],
                             min_notice_minutes=0)  # fmt: skip
    availability_replace(instructor=teacher, timezone="UTC",
                         rules=[(day, time(9), time(12)) for day in range(7)])  # fmt: skip
    students = [
        user_create(
            email=f"s{n}@example.com",
            password=PASSWORD,
            name=f"Stu {n}",
            role="student",
            timezone="UTC",
        )
        for n in (1, 2)
    ]
    return teacher, service, students


def sign_in(browser, server: Server, email: str, *, width: int = 1280, shot: Path | None = None):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/")
    expect(page.get_by_label("E-mail")).to_be_visible()
    if shot:
        page.screenshot(path=shot)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#week")).to_be_visible()
    page.locator("#next-week").click()  # a whole week ahead: every day has free times
    return page


def slot(page, start: str):
    return page.locator(f'#week button.slot[data-start="{start}"]')


def not_blank(png: bytes) -> bool:
    """Many different pixels: the PNG's decoded rows hold many distinct byte runs."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    data, offset = b"", 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    raw = zlib.decompress(data)
    return len({raw[i : i + 4] for i in range(0, len(raw) - 4, 4)}) > 50


def keep(page, tmp_path: Path, name: str) -> None:
    """A screenshot in the run's artifacts, checked non-blank (and put in docs/screenshots
    with UPDATE_SCREENSHOTS=1)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    assert not_blank(path.read_bytes()), name
    screenshot_publish(path, name)


def test_a_booking_shows_live_everywhere_and_a_cancel_brings_the_time_back(
    browser, server, people, tmp_path
):
    _, _, (first, second) = people
    shot = tmp_path / "signin.png"
    teacher_page = sign_in(browser, server, "ida@example.com", shot=shot)
    assert not_blank(shot.read_bytes())
    screenshot_publish(shot, "signin")
    booker = sign_in(browser, server, first.email)
    other = sign_in(browser, server, second.email)

    expect(booker.locator("#week button.slot").first).to_be_visible()
    start = booker.locator("#week button.slot").nth(1).get_attribute("data-start")
    expect(slot(other, start)).to_be_visible()
    expect(slot(teacher_page, start)).to_be_visible()
    slot(other, start).click()  # the second student is about to book the same time
    expect(other.locator("#book-button")).to_be_visible()

    slot(booker, start).click()
    booker.get_by_label("Where").select_option("online")
    booker.locator("#book-button").click()
    expect(booker.locator("#book-outcome")).to_have_text("Booked: confirmed.")
    lesson = booker.locator("#lessons li.lesson")
    expect(lesson).to_contain_text("Piano with Ida Keys")
    expect(lesson.locator(".status")).to_have_text("confirmed")

    # Without a reload: the instructor sees the lesson, the other student loses the time.
    expect(teacher_page.locator("#week .lesson")).to_contain_text("Piano · Stu 1")
    expect(slot(teacher_page, start)).to_have_count(0)
    expect(slot(other, start)).to_have_count(0)
    expect(slot(booker, start)).to_have_count(0)
    keep(booker, tmp_path, "student-calendar")
    keep(teacher_page, tmp_path, "instructor-calendar")

    # The panel the second student opened still offers it: the server's 409, in words.
    other.locator("#book-button").click()
    expect(other.locator("#book-error")).to_be_visible()
    expect(other.locator("#book-error")).to_contain_text(
        "This time is not a free slot of the service."
    )

    booker.get_by_label("Reason for cancelling").fill("Something came up")
    booker.get_by_role("button", name="Cancel lesson").click()
    expect(teacher_page.locator("#week .lesson")).to_have_count(0)
    expect(slot(other, start)).to_be_visible()
    expect(slot(teacher_page, start)).to_be_visible()
    for page in (teacher_page, booker, other):
        page.context.close()


def test_the_banner_shows_while_the_server_is_away_and_goes_when_it_is_back(
    browser, server, people
):
    _, _, (student, _) = people
    page = sign_in(browser, server, student.email, width=375)
    banner = page.locator("#banner")
    expect(page.locator("#week button.slot").first).to_be_visible()
    expect(banner).to_be_hidden()
    server.stop()
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Offline")
    server.start()
    expect(banner).to_be_hidden(timeout=15_000)
    # At phone width nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.context.close()


def test_signing_out_shows_the_form_again(browser, server, people):
    _, _, (student, _) = people
    page = sign_in(browser, server, student.email)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("E-mail")).to_be_visible()
    page.context.close()


def test_in_the_page_a_student_messages_the_instructor_and_both_chat_live(browser, server, people):
    """The chat panel mounted in the real page beside the calendar (both follow user:)."""
    assert people  # Ida, her lesson and two students exist
    student = sign_in(browser, server, "s1@example.com")
    student.get_by_label("Find an instructor (name or lesson)").fill("Ida")
    student.get_by_role("button", name="Search").click()
    student.get_by_role("button", name="Message Ida Keys").click()
    expect(student.locator(".chat-thread h3")).to_have_text("Ida Keys")
    teacher = sign_in(browser, server, "ida@example.com")
    box = student.locator(".chat-compose textarea")
    box.fill("Hello from the calendar page")
    box.press("Enter")
    expect(teacher.locator(".chat-badge")).to_have_text("1")
    teacher.locator(".chat-item").click()
    expect(teacher.locator(".chat-msg .chat-body")).to_have_text(["Hello from the calendar page"])
    expect(student.locator(".chat-tick")).to_have_text([" ✓✓"])
    reply = teacher.locator(".chat-compose textarea")
    reply.fill("Hi Stu!")
    reply.press("Enter")
    expect(student.locator(".chat-msg .chat-body")).to_have_text(
        ["Hello from the calendar page", "Hi Stu!"]
    )

    # The server restarts while both pages are open; a message stored meanwhile (by
    # another process: here the test's own) reaches both pages once they reconnect, once.
    server.stop()
    expect(student.locator("#banner")).to_be_visible()
    teacher_user = User.objects.get(email="ida@example.com")
    conversation = Conversation.objects.get()
    message_send(user=teacher_user, conversation_id=conversation.pk,
                 body="Sent while you were away", client_id="away-1")  # fmt: skip
    server.start()
    expect(student.locator("#banner")).to_be_hidden(timeout=15_000)
    everything = ["Hello from the calendar page", "Hi Stu!", "Sent while you were away"]
    for page in (student, teacher):
        expect(page.locator(".chat-msg .chat-body")).to_have_text(everything, timeout=15_000)
    reply.fill("Back online")
    reply.press("Enter")
    expect(student.locator(".chat-msg .chat-body")).to_have_text([*everything, "Back online"])
    for page in (student, teacher):
        page.context.close()
