"""The page's notifications bell and where a lesson happens, in Debian's Chromium against
a live daphne on PostgreSQL and Redis (the helpers of test_webapp_browser.py).

Notifications are made in the test with `notification_create`, the service the domain
apps call, which publishes `notification.created` and `notifications.unread` on commit:
so these tests hold whichever app's changes make them."""

import re
import time as clock
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.services import user_create
from bookings.models import Booking, InstructorProfile
from chat.services import conversation_open
from notifications.models import Notification
from notifications.selectors import email_choices
from notifications.services import notification_create
from tests.browser import needs_chromium
from tests.helpers import PASSWORD, lesson_service, place_booking
from tests.test_webapp_browser import Server, keep, sign_in, slot

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]

START = "2027-03-02T15:30:00Z"  # 10:30 in New York, the student's zone
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def server(live_servers):
    """The test's own notifications reach the page through the server's tail of the event
    log (the server drops this process's fast-path messages: another deployment id, as
    its settings name the database before the test database is made): tail it often."""
    started = Server()
    started.env["HUB_TAIL_INTERVAL_SECONDS"] = "0.2"
    started.start()
    yield started
    started.stop()


@pytest.fixture
def people():
    teacher = user_create(email="ida@example.com", password=PASSWORD, name="Ida Keys",
                          role="instructor", timezone="UTC")  # fmt: skip
    service = lesson_service(teacher, location_types=(
        "online", "instructor_location", "student_location", "neutral_location",
    ))  # fmt: skip
    student = user_create(email="s1@example.com", password=PASSWORD, name="Stu 1",
                          role="student", timezone="America/New_York")  # fmt: skip
    return teacher, service, student


# A few notifications as another app might send them, described in the page.
DESCRIBE = """async (start) => {
  const { describe } = await import("/static/web/notification-words.js");
  const all = [
    ["something_new", { x: 1 }],
    ["booking_confirmed", null],
    ["booking_rescheduled", { service: 5, start: "soon", with: "Ida" }],
    ["lesson_reminder", { service: "Piano", start, with: { name: "Ida" } }],
    ["payment_failed", { service: "Piano", pay_by: start }],
    ["payment_failed", { service: "Piano", pay_by: null, status: "cancelled" }],
    ["booking_cancelled", { service: "Piano", reason: "payment_failed", with: { id: 1 } }],
    ["message", { sender: { name: ["x"] } }],
    ["export_ready", { export_id: 3, expires_at: start }],
  ];
  return all.map(([kind, data]) => describe({ kind, data }, "America/New_York"))
    .map((words) => [words.title, words.detail || ""]);
}"""
CAFE = "Café <i>Central</i>"


def eventually(check, timeout: float = 5.0):
    """Wait for a database state the page's request makes (after the page shows it)."""
    deadline = clock.monotonic() + timeout
    while not check():
        assert clock.monotonic() < deadline, "not within the time"
        clock.sleep(0.05)


def local_label(instant: datetime) -> str:
    """The page's "Tue 2 Mar, 10:30" in the student's zone."""
    local = instant.astimezone(NEW_YORK)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def next_week_starts(page, tz: str) -> list[str]:
    """The free times of next week (sign_in went there): once its Monday has some, the
    shown week is that one for good (an older answer is dropped)."""
    today = datetime.now(ZoneInfo(tz)).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    expect(
        page.locator(f'#week [data-date="{date.isoformat(monday)}"] button.slot').first
    ).to_be_visible()
    return page.locator("#week button.slot").evaluate_all("(b) => b.map((x) => x.dataset.start)")


def cancelled(student, teacher, booking_id: int, name: str = "Ida Keys") -> dict:
    data = {"booking_id": booking_id, "service": "Piano", "start": START,
            "with": {"id": teacher.pk, "name": name}, "reason": "Ill today"}  # fmt: skip
    return {"user": student, "kind": "booking_cancelled", "data": data}


def test_the_bell_counts_live_lists_leads_to_the_lesson_and_the_chat_and_marks_read(
    browser, server, people, tmp_path
):
    teacher, service, student = people
    booking = place_booking(
        service, student, timezone.now() + timedelta(days=2), payment_status="authorized"
    )
    conversation, _ = conversation_open(user=student, participant_id=teacher.pk)
    page = sign_in(browser, server, student.email)
    other_tab = sign_in(browser, server, student.email)
    bell = page.locator("#bell-count")
    expect(page.locator(f'#lessons li[data-booking="{booking.pk}"]')).to_be_visible()
    expect(bell).to_be_hidden()

    # Made while the page is open: the count and the open panel follow live.
    notification_create(**cancelled(student, teacher, booking.pk))
    expect(bell).to_have_text("1")
    expect(other_tab.locator("#bell-count")).to_have_text("1")
    page.locator("#bell").click()
    items = page.locator("#notification-list li")
    expect(items).to_have_count(1)
    # The lesson's time is in the student's zone.
    expect(items.first).to_contain_text(
        f"Cancelled: Piano with Ida Keys, {local_label(datetime.fromisoformat(START))}"
    )
    expect(items.first).to_contain_text("Reason: Ill today")
    notification_create(user=student, kind="message",
                        data={"conversation_id": conversation.pk,
                              "sender": {"id": teacher.pk, "name": "Ida Keys"}})  # fmt: skip
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("New messages from Ida Keys")  # newest first
    expect(bell).to_have_text("2")
    keep(page, tmp_path, "notifications")

    # A booking's notification: read, and the lesson is brought into view.
    items.nth(1).get_by_role("button").click()
    expect(page.locator(f'#lessons li[data-booking="{booking.pk}"]')).to_have_class(
        re.compile(r"\bflash\b")
    )
    expect(bell).to_have_text("1")
    expect(other_tab.locator("#bell-count")).to_have_text("1")  # another tab follows
    eventually(lambda: Notification.objects.filter(user=student, read_at__isnull=True).count() == 1)

    # A message's notification opens that conversation in the chat panel.
    page.locator("#bell").click()
    expect(items.first).to_have_class(re.compile(r"\bunread\b"))
    items.first.get_by_role("button").click()
    expect(page.locator(".chat-thread h3")).to_have_text("Ida Keys")
    expect(bell).to_be_hidden()
    expect(page.locator("#notifications-panel")).to_be_hidden()
    eventually(lambda: not Notification.objects.filter(user=student, read_at__isnull=True).exists())

    # "Mark all read" on the page reads every one up to the newest, on the server too.
    for name in ("Ida Keys", "Ida <b>Keys</b>"):
        notification_create(**cancelled(student, teacher, booking.pk, name=name))
    expect(bell).to_have_text("2")
    page.locator("#bell").click()
    expect(page.locator("#notification-list li.unread")).to_have_count(2)
    # A name is text, never markup.
    expect(items.first).to_contain_text("Cancelled: Piano with Ida <b>Keys</b>")
    expect(page.locator("#notifications-panel b")).to_have_count(0)
    page.get_by_role("button", name="Mark all read").click()
    expect(bell).to_be_hidden()
    expect(page.locator("#notification-list li.unread")).to_have_count(0)
    expect(other_tab.locator("#bell-count")).to_be_hidden()
    eventually(lambda: not Notification.objects.filter(user=student, read_at__isnull=True).exists())
    for each in (page, other_tab):
        each.context.close()


def test_older_notifications_load_by_page_unread_first(browser, server, people):
    teacher, _, student = people
    made = [notification_create(**cancelled(student, teacher, 1000 + n)) for n in range(23)]
    Notification.objects.filter(pk__in=[n.pk for n in made[5:10]]).update(read_at=timezone.now())
    page = sign_in(browser, server, student.email)
    expect(page.locator("#bell-count")).to_have_text("18")  # from GET /me
    page.locator("#bell").click()
    items = page.locator("#notification-list li")
    expect(items).to_have_count(20)
    expect(page.locator("#notification-list li.unread")).to_have_count(18)
    page.get_by_role("button", name="Load more").click()
    expect(items).to_have_count(23)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    shown = [
        int(i) for i in items.evaluate_all("(rows) => rows.map((r) => r.dataset.notification)")
    ]
    unread = [n.pk for n in reversed(made) if n not in made[5:10]]
    assert shown == unread + [n.pk for n in reversed(made[5:10])]
    page.keyboard.press("Escape")
    expect(page.locator("#notifications-panel")).to_be_hidden()
    page.context.close()


def test_any_kind_and_any_data_reads_as_words(browser, server, people):
    """Data from elsewhere is checked field by field; an unknown kind gets a plain line."""
    _, _, student = people
    page = sign_in(browser, server, student.email)
    lines = page.evaluate(DESCRIBE, START)
    assert lines == [
        ["Something new in your account", ""],
        ["Confirmed: Your lesson", ""],
        ["Moved: Your lesson", ""],
        ["Coming up: Piano with Ida, Tue 2 Mar, 10:30", ""],
        ["Payment failed: Piano", "Pay by Tue 2 Mar, 10:30 to keep the lesson."],
        ["Payment failed: Piano", "The booking was cancelled."],
        ["Cancelled: Piano", "Reason: the payment did not go through"],
        ["New messages", ""],
        ["Your data export is ready", "Download it by Tue 2 Mar, 10:30."],
    ]
    page.context.close()


def test_the_email_choices_round_trip(browser, server, people):
    _, _, student = people
    page = sign_in(browser, server, student.email, width=375)
    page.locator("#bell").click()
    page.get_by_text("E-mail me about…").click()
    messages = page.get_by_label("New messages")
    expect(messages).to_be_checked()
    # At phone width the panel fits the screen.
    box = page.locator("#notifications-panel").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    messages.uncheck()
    page.get_by_role("button", name="Save e-mail choices").click()
    expect(page.locator("#notification-settings")).to_contain_text("E-mail choices saved.")
    choices = email_choices(user=student)
    assert choices["message"] is False
    assert all(on for kind, on in choices.items() if kind != "message")

    page.reload()
    page.locator("#bell").click()
    page.get_by_text("E-mail me about…").click()
    expect(page.get_by_label("New messages")).not_to_be_checked()
    expect(page.get_by_label("A lesson is cancelled")).to_be_checked()
    page.context.close()


def test_where_the_lesson_happens_is_given_and_shown_to_both(browser, server, people):
    teacher, _, student = people
    instructor = sign_in(browser, server, teacher.email)
    address = instructor.get_by_label("Your address (for lessons at your place)")
    save = instructor.get_by_role("button", name="Save profile")
    address.fill("Piano street 1\u202e")  # a bidi override: refused, in words, by the field
    save.click()
    expect(instructor.locator("#profile-error")).to_contain_text("address")
    expect(address).to_have_attribute("aria-invalid", "true")
    address.fill("Piano street 1, Vienna")
    save.click()
    expect(instructor.locator("#profile-form")).to_contain_text("Profile saved.")
    expect(address).not_to_have_attribute("aria-invalid", "true")
    assert InstructorProfile.objects.get(user=teacher).address == "Piano street 1, Vienna"

    page = sign_in(browser, server, student.email)
    starts = next_week_starts(page, student.timezone)
    where = page.get_by_label("Where")
    meeting_point = page.get_by_label("Meeting point")
    expect(meeting_point).to_be_hidden()
    where.select_option("student_location")
    expect(page.get_by_label("Your address")).to_be_visible()
    where.select_option("neutral_location")
    expect(page.get_by_label("Your address")).to_be_hidden()
    meeting_point.fill(f"{CAFE}\u202e")
    slot(page, starts[0]).click()
    page.locator("#book-button").click()
    expect(page.locator("#place-error")).to_contain_text("meeting_point")
    expect(meeting_point).to_have_attribute("aria-invalid", "true")
    expect(meeting_point).to_be_focused()
    assert not Booking.objects.exists()
    meeting_point.fill(CAFE)
    page.locator("#book-button").click()
    expect(page.locator("#book-outcome")).to_have_text("Booked: confirmed.")
    expect(page.locator("#place-error")).to_be_hidden()
    expect(page.locator("#lessons .place")).to_have_text(f"Where: Meeting point: {CAFE}")
    expect(instructor.locator("#lessons .place")).to_have_text(f"Where: Meeting point: {CAFE}")

    # At the instructor's: her address, fixed on the booking, on both sides.
    where.select_option("instructor_location")
    slot(page, starts[1]).click()
    page.locator("#book-button").click()
    expect(page.locator("#lessons .place")).to_have_text([
        f"Where: Meeting point: {CAFE}",
        "Where: At the instructor's place: Piano street 1, Vienna",
    ])  # fmt: skip
    expect(instructor.locator("#lessons .place")).to_have_text([
        f"Where: Meeting point: {CAFE}",
        "Where: At your place: Piano street 1, Vienna",
    ])  # fmt: skip
    for each in (page, instructor):
        each.context.close()
