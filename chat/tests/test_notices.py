"""Offline notices on a real Celery worker: once per message, never to the online or the reader."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone

from chat import tasks
from chat.models import Message
from chat.notices import offline_notices_send
from chat.services import message_delete, message_send, read_mark
from conventions import tasks as mail_tasks
from conventions.mail import emails_send
from hub.registry import connections_record
from tests.helpers import on_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def outbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def say(user, conversation, body, minutes_ago: float = 6) -> Message:
    message, _ = message_send(user=user, conversation_id=conversation.pk, body=body, client_id=body)
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return message


def test_one_notice_for_unread_messages_and_never_twice(worker, student, instructor, conversation):
    say(student, conversation, "Are you free on Monday?")
    say(student, conversation, "Or Tuesday?")
    say(student, conversation, "just now", minutes_ago=1)  # not unread long enough yet

    assert on_worker(tasks.offline_notices_send) == 1
    assert on_worker(tasks.offline_notices_send) == 0
    assert mail.outbox == []  # queued in the outbox, sent by its own job
    assert on_worker(mail_tasks.emails_send) == 1
    (notice,) = mail.outbox
    assert notice.to == [instructor.email]
    assert notice.subject == f"2 unread messages from {student.name}"
    assert "Monday" in notice.body and "Tuesday" in notice.body and "just now" not in notice.body

    # Later, only what is new (the third message, now old enough) is in the next notice.
    Message.objects.filter(body="just now").update(created_at=timezone.now() - timedelta(minutes=6))
    assert on_worker(tasks.offline_notices_send) == 1
    assert on_worker(mail_tasks.emails_send) == 1
    assert "just now" in mail.outbox[1].body and "Monday" not in mail.outbox[1].body


def test_no_notice_while_the_recipient_is_connected(worker, student, instructor, conversation):
    connections_record(process_id="p1", opened={"c1": instructor.pk}, closed=[], heartbeat=True)
    say(student, conversation, "hello?")
    assert on_worker(tasks.offline_notices_send) == 0
    connections_record(process_id="p1", opened={}, closed=["c1"], heartbeat=True)
    assert on_worker(tasks.offline_notices_send) == 1


def test_no_notice_for_read_or_deleted_messages(worker, student, instructor, conversation):
    read = say(student, conversation, "read this")
    read_mark(user=instructor, conversation_id=conversation.pk, message_id=read.pk)
    gone = say(student, conversation, "oops")
    message_delete(user=student, conversation_id=conversation.pk, message_id=gone.pk)
    say(instructor, conversation, "my own words")  # the student's unread, not the writer's
    assert on_worker(tasks.offline_notices_send) == 1
    assert on_worker(mail_tasks.emails_send) == 1
    (notice,) = mail.outbox
    assert notice.to == [student.email] and "my own words" in notice.body


def test_two_runs_at_once_send_one_notice(student, conversation):
    say(student, conversation, "racing")
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait(timeout=10)
            return offline_notices_send()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert sorted(pool.map(lambda _: run(), range(2))) == [0, 1]
    assert emails_send() == 1
    assert len(mail.outbox) == 1


def test_no_offline_email_for_someone_who_turned_message_emails_off(
    student, instructor, conversation
):
    from notifications.services import notification_settings_update

    notification_settings_update(user=instructor, email={"message": False})
    say(student, conversation, "Are you free on Monday?")
    offline_notices_send()
    assert emails_send() == 0
    # The messages count as handled: turning e-mail back on does not send old news.
    notification_settings_update(user=instructor, email={"message": True})
    offline_notices_send()
    assert emails_send() == 0
