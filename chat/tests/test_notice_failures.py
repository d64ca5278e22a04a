"""An offline notice that cannot be sent costs only that notice: logged, tried again
by the next run, and every other person's notice still goes out."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import User
from chat.models import Message, Participant
from chat.notices import offline_notices_send
from chat.services import conversation_open, message_send

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_failing_notice_stops_no_other_and_is_retried(make_user, settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    teacher = make_user("instructor")
    eve, ann = make_user("student"), make_user("student")
    for student, body in ((eve, "from Eve"), (ann, "from Ann")):
        conversation, _ = conversation_open(user=student, participant_id=teacher.pk)
        message_send(user=student, conversation_id=conversation.pk, body=body, client_id=body)
    Message.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    # A name with a line break, written past validation, breaks the subject header.
    User.objects.filter(pk=eve.pk).update(name="Eve\nBcc: everyone@example.com")

    assert offline_notices_send() == 1
    (sent,) = mail.outbox
    assert "from Ann" in sent.body
    assert f"Could not send an offline notice to user {teacher.pk}" in caplog.text
    eves = Participant.objects.get(user=teacher, conversation__participants__user=eve)
    assert eves.last_notified_message_id == 0  # moved back: the next run tries again

    User.objects.filter(pk=eve.pk).update(name="Eve")
    assert offline_notices_send() == 1
    assert "from Eve" in mail.outbox[1].body
    assert offline_notices_send() == 0
