"""An offline notice that cannot be sent costs only that notice: every other person's
notice still goes out, its messages are never put in a second notice, and the outbox
sends it on a later try."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat.models import Message, Participant
from chat.notices import offline_notices_send
from chat.services import conversation_open, message_send
from conventions.mail import emails_send
from conventions.models import OutgoingEmail

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_failing_notice_stops_no_other_and_is_retried(make_user, smtp, caplog):
    teacher = make_user("instructor")
    eve, ann = make_user("student"), make_user("student")
    for student, body in ((eve, "from Eve"), (ann, "from Ann")):
        conversation, _ = conversation_open(user=student, participant_id=teacher.pk)
        message_send(user=student, conversation_id=conversation.pk, body=body, client_id=body)
    Message.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    smtp.refused_subjects.add(f"from {eve.name}")  # the server refuses this one message

    assert offline_notices_send() == 2
    assert emails_send() == 1
    (sent,) = smtp.received
    assert sent.to == (teacher.email,) and "from Ann" in sent.body
    assert f"to {teacher.email} (attempt 1)" in caplog.text
    eves = Participant.objects.get(user=teacher, conversation__participants__user=eve)
    assert eves.last_notified_message_id == Message.objects.get(body="from Eve").pk
    assert offline_notices_send() == 0  # in the outbox already: never queued twice

    smtp.refused_subjects.clear()
    OutgoingEmail.objects.filter(sent_at__isnull=True).update(next_attempt_at=timezone.now())
    assert emails_send() == 1
    assert "from Eve" in smtp.received[1].body
    assert emails_send() == 0
    assert len(smtp.received) == 2
