"""Telling people about messages they have not seen: a notification at once (unless
they are looking at the conversation), and an e-mail when left unread while they are
connected nowhere."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from chat.models import Message, Participant
from conventions.mail import email_enqueue
from hub.registry import users_connected
from notifications.models import Kind
from notifications.selectors import email_wanted, unread_in_group
from notifications.services import (
    notification_create,
    notifications_data_rewrite,
    notifications_read_group,
)

# Older unread messages are not worth a notice any more (and bound the scan).
LOOKBACK = timedelta(days=2)
SHOWN = 10


def _group(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def message_notify(message: Message, *, recipient_id: int) -> None:
    """One notification per conversation until its recipient reads it; called in the
    send's transaction, which holds the recipient's participant row."""
    group = _group(message.conversation_id)
    if unread_in_group(user_id=recipient_id, group_key=group):
        return
    sender = message.sender
    notification_create(
        user=User.objects.get(pk=recipient_id),
        kind=Kind.MESSAGE,
        data={
            "conversation_id": message.conversation_id,
            "message_id": message.pk,
            "sender": {"id": sender.pk, "name": sender.name},
        },
        group_key=group,
    )


def message_notices_erase(*, user_id: int, name: str) -> int:
    """The message notices others keep about an erased sender show their new name."""
    return notifications_data_rewrite(
        kinds=(Kind.MESSAGE,),
        where={"sender__id": user_id},
        rewrite=lambda data: {**data, "sender": {"id": user_id, "name": name}},
    )


def message_notice_seen(*, user: User, conversation_id: int) -> None:
    """The conversation was read to its end: its notification has done its job."""
    notifications_read_group(user=user, group_key=_group(conversation_id))


def _enqueue(participant: Participant, unread: list[Message]) -> None:
    """Queue the notice, keyed by the participant and the last message it covers."""
    user = participant.user
    zone = ZoneInfo(user.timezone)
    other = unread[0].sender
    lines = [
        f"{m.created_at.astimezone(zone):%d %b %H:%M}  {m.body[:200]}" for m in unread[-SHOWN:]
    ]
    more = len(unread) - SHOWN
    if more > 0:
        lines.insert(0, f"(and {more} earlier)")
    count = f"{len(unread)} unread message{'s' if len(unread) > 1 else ''}"
    email_enqueue(
        key=f"offline-notice-{participant.pk}-{unread[-1].pk}",
        to=user.email,
        subject=f"{count} from {other.name}",
        body=f"Hello {user.name},\n\n{other.name} wrote to you:\n\n" + "\n".join(lines) + "\n",
    )


def offline_notices_send(*, now: datetime | None = None) -> int:
    """One e-mail per person and conversation for messages unread past the delay.

    Skipped while the person has an open connection anywhere (the next run looks
    again). `last_notified_message_id` moves and the notice is queued in the outbox in
    one short transaction with the row locked, so no message is ever in two notices
    and none is lost; the outbox sends (and retries) it after the commit.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.CHAT_OFFLINE_NOTICE_MINUTES)
    conversation_ids = (
        Message.objects.filter(
            created_at__gt=now - LOOKBACK, created_at__lte=cutoff, deleted_at__isnull=True
        )
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    candidates = list(
        Participant.objects.filter(conversation_id__in=conversation_ids).values_list(
            "pk", "user_id"
        )
    )
    online = users_connected({user_id for _, user_id in candidates})
    queued = 0
    for participant_id, user_id in candidates:
        if user_id in online:
            continue
        with transaction.atomic():
            participant = (
                Participant.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("user")
                .filter(pk=participant_id)
                .first()
            )
            if participant is None:  # another run holds it
                continue
            floor = max(participant.last_read_message_id, participant.last_notified_message_id)
            unread = list(
                Message.objects.filter(
                    conversation_id=participant.conversation_id,
                    id__gt=floor,
                    deleted_at__isnull=True,
                    created_at__lte=cutoff,
                )
                .exclude(sender_id=user_id)
                .select_related("sender")
                .order_by("id")
            )
            if not unread:
                continue
            Participant.objects.filter(pk=participant.pk).update(
                last_notified_message_id=unread[-1].pk
            )
            if not email_wanted(user=participant.user, kind=Kind.MESSAGE):
                continue  # they read their messages in the app only
            _enqueue(participant, unread)
        queued += 1
    return queued
